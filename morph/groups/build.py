"""Turn a model into a :class:`~morph.graph.ChannelGraph`: which output channels are tied, and what feeds what.

Torch-Pruning's DependencyGraph finds the coupled channels (MorphNet's grouping rules, morphnet-facts §3):
element-wise ops tie (one group across a residual stream), a concat does not (the consumer sees each input's
group in concat order), norms/activations/pooling/resizing/padding pass through, a depthwise conv joins its
producer's group. Each TP group is one ChannelGroup; a consumer's input channels are read off the group items'
local indices, so concat offsets come from TP's own index mapping. Groups that nothing consumes (the head),
groups holding a layer named in ``fixed``, and depthwise groups fed by the image are fixed (``out_group=None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from morph.errors import MorphError, UnsupportedLayerError
from morph.gates import bypassed
from morph.graph import ChannelGraph, ChannelGroup, FixedInput, Layer
from morph.groups._rules import NORM_TYPES, layer_info
from morph.groups._trace import dependency_graph, eval_mode, record_shapes
from morph.layers import LayerRule, LayerRules, LayerSpec

_FIXED = -1


def build_graph(model: nn.Module, example_input: torch.Tensor, fixed: Iterable[str] = (), *,
                customized: Iterable[LayerRule] = ()) -> ChannelGraph:
    """Trace ``model`` once at ``example_input``'s size and return its channel graph.

    Args:
        model: any net of Conv2d / ConvTranspose2d / Linear layers and BN / GroupNorm / LayerNorm norms.
        example_input: a batch at the resolution the costs should describe (batch size does not matter).
        fixed: layer names whose output channels must not change (besides the head, which always is).
        customized: layer rules for this call only, on top of the registered ones (``morph.register_layer``).

    Raises:
        UnsupportedLayerError: an op or module whose channel coupling cannot be expressed (named in the message).
    """
    names = {id(m): n for n, m in model.named_modules()}
    fixed = set(fixed)
    unknown = fixed - set(names.values())
    if unknown:
        raise MorphError(f"fixed layers not in the model: {sorted(unknown)}")
    rules = LayerRules(customized)
    with eval_mode(model), bypassed(model):
        shapes = record_shapes(model, example_input, rules)
        dg = dependency_graph(model, example_input, rules)
        tp_groups = list(dg.get_all_groups(root_module_types=rules.root_types()))
    order = {n: i for i, n in enumerate(shapes)}
    infos: dict[str, LayerSpec] = {n: layer_info(n, model.get_submodule(n), rules) for n in shapes}  # type: ignore[misc]
    parts = [part for g in tp_groups for part in _split_group(g, dg, names, infos) if part.producers]
    parts.sort(key=lambda r: min(order.get(p, 1 << 30) for p in r.producers))
    owner = _owners(model, parts, shapes)
    groups, gid = _channel_groups(model, parts, _fixed_parts(parts, infos, fixed), order, list(names.values()))
    in_map = _input_slots(model, parts, gid, {n: infos[n].in_channels for n in shapes})
    spanning = {n for r in parts for n in r.spanning}
    layers = []
    for n, (in_shape, out_shape) in shapes.items():
        info, mod = infos[n], model.get_submodule(n)
        rule = rules.for_module(mod)
        assert rule is not None
        out_group = gid.get(owner[n]) if n in owner else None
        if info.groups > 1 and n not in spanning:
            in_groups: tuple[int | FixedInput, ...] = (
                (out_group,) if out_group is not None else (FixedInput(info.in_channels),))
        else:
            in_groups = _runs(n, mod, in_map[n], groups)
        hw_in, hw_out = rule.spatial(n, in_shape, out_shape)
        layers.append(Layer(name=n, kind=info.kind, in_groups=in_groups, out_group=out_group,
                            in_channels=info.in_channels, out_channels=info.out_channels,
                            kernel=info.kernel, groups=info.groups, out_hw=hw_out, in_hw=hw_in,
                            bias=getattr(mod, "bias", None) is not None, rule=rule))
    modules = {n: model.get_submodule(n) for n in shapes}
    modules.update({n: model.get_submodule(n) for g in groups for n in g.norms})
    return ChannelGraph(groups=groups, layers=layers, modules=modules,
                        constant_params=_constant_params(model, layers, groups))


@dataclass(frozen=True)
class _Part:
    """One channel group as traced, before it gets an id: its producers, norms, consumers' local input indices,
    width, and depthwise convs that span it and another part (a depthwise conv over a concat)."""

    producers: list[str]
    norms: list[str]
    inputs: list[tuple[str, list[int]]]
    width: int
    spanning: list[str]


def _owners(model: nn.Module, parts: list[_Part], shapes: dict[str, Any]) -> dict[str, int]:
    """Producer → index of its part; every layer's outputs must be in exactly one part (or span several)."""
    owner: dict[str, int] = {}
    for i, r in enumerate(parts):
        for p in r.producers:
            if p in owner:
                raise UnsupportedLayerError(f"{p} ({type(model.get_submodule(p)).__name__}): output channels in two groups")
            owner[p] = i
    spanning = {n for r in parts for n in r.spanning}
    missing = [n for n in shapes if n not in owner and n not in spanning]
    if missing:
        raise UnsupportedLayerError(f"{missing[0]} ({type(model.get_submodule(missing[0])).__name__}): "
                                    "no channel group found for its outputs")
    return owner


def _fixed_parts(parts: list[_Part], infos: dict[str, LayerSpec], fixed: set[str]) -> list[bool]:
    """Parts whose width must not change: nothing consumes them (the head), they hold a ``fixed`` layer, or they
    are a depthwise group fed by the image."""
    consumed = {i for i, r in enumerate(parts) for n, _ in r.inputs if n in infos}
    return [i not in consumed or bool(fixed & set(r.producers)) or all(infos[p].groups > 1 for p in r.producers)
            for i, r in enumerate(parts)]


def _channel_groups(model: nn.Module, parts: list[_Part], is_fixed: list[bool], order: dict[str, int],
                    module_order: list[str]) -> tuple[list[ChannelGroup], dict[int, int]]:
    """The free parts as ChannelGroups (named by the model's width keys where it has them) and part → group id."""
    keys = _width_keys(model)
    groups: list[ChannelGroup] = []
    gid: dict[int, int] = {}
    for i, r in enumerate(parts):
        if is_fixed[i]:
            continue
        norm_params = sum(_param_count(model.get_submodule(n)) for n in r.norms)
        if norm_params % r.width:
            raise UnsupportedLayerError(f"{r.norms[0]} (norm): parameters are not per-channel")
        prods = tuple(sorted(r.producers, key=order.__getitem__))
        name = next((keys[p] for p in prods if p in keys), prods[0])
        if any(g.name == name for g in groups):
            name = f"{name}#{len(groups)}"
        gid[i] = len(groups)
        norms = tuple(sorted(r.norms, key=module_order.index))
        groups.append(ChannelGroup(id=len(groups), width=r.width, producers=prods, norms=norms,
                                   name=name, norm_params=norm_params // r.width))
    return groups, gid


def _input_slots(model: nn.Module, parts: list[_Part], gid: dict[int, int], in_channels: dict[str, int]
                 ) -> dict[str, list[int | None]]:
    """Per layer, the group id (or ``_FIXED``) of each input channel."""
    in_map: dict[str, list[int | None]] = {n: [None] * c for n, c in in_channels.items()}
    for i, r in enumerate(parts):
        for n, idxs in r.inputs:
            slots = in_map[n]
            for k in idxs:
                if slots[k] is not None and slots[k] != gid.get(i, _FIXED):
                    raise UnsupportedLayerError(f"{n} ({type(model.get_submodule(n)).__name__}): "
                                                f"input channel {k} is claimed by two groups")
                slots[k] = gid.get(i, _FIXED)
    return in_map


def _constant_params(model: nn.Module, layers: list[Layer], groups: list[ChannelGroup]) -> int:
    """Parameters no group scales (norms on fixed channels, modules the forward never calls)."""
    total = sum(p.numel() for p in model.parameters())
    structural = sum(_layer_params(lay) for lay in layers) + sum(g.norm_params * g.width for g in groups)
    if total < structural:
        raise MorphError(f"graph counts {structural} parameters but the model has {total}: a layer is counted twice")
    return total - structural


def _split_group(group: Any, dg: Any, names: dict[int, str], infos: dict[str, LayerSpec]) -> list[_Part]:
    """Producers, norms and (consumer, local input indices) of one Torch-Pruning group."""
    producers: dict[str, list[int]] = {}
    norms: dict[str, list[int]] = {}
    inputs: list[tuple[str, list[int], list[int]]] = []
    for item in group:
        mod = item.dep.target.module
        if not isinstance(mod, nn.Module) or id(mod) not in names:
            continue
        name = names[id(mod)]
        idxs = [int(getattr(i, "idx", i)) for i in item.idxs]
        roots = getattr(item, "root_idxs", None)
        roots = [int(getattr(i, "root_idx", i)) for i in (roots if roots is not None else item.idxs)]
        if isinstance(mod, NORM_TYPES):
            norms.setdefault(name, roots)
        elif name in infos:
            if dg.is_out_channel_pruning_fn(item.dep.handler):
                producers.setdefault(name, roots)
                if infos[name].groups > 1:  # a depthwise conv's inputs follow its outputs one to one
                    inputs.append((name, idxs, roots))
            elif infos[name].groups == 1:
                inputs.append((name, idxs, roots))
    return _partition(producers, norms, inputs, infos)


def _partition(producers: dict[str, list[int]], norms: dict[str, list[int]],
               inputs: list[tuple[str, list[int], list[int]]], infos: dict[str, LayerSpec]) -> list[_Part]:
    """Split a TP group into ChannelGroups: one per distinct channel set of its dense producers.

    TP puts a depthwise conv over a concat (DeepLabV3+'s separable conv) in one group with *both* concat
    inputs; MorphNet keeps concatenated inputs apart, so the group is split by root indices and the
    depthwise conv, which then spans several groups, is marked in ``spanning``.
    """
    sets: list[frozenset[int]] = []
    for name, roots in producers.items():
        if infos[name].groups == 1 and frozenset(roots) not in sets:
            sets.append(frozenset(roots))
    if not sets:  # only depthwise producers: fed by the image
        sets = [frozenset(next(iter(producers.values())))] if producers else []
    if sum(len(x) for x in sets) != len(frozenset().union(*sets)):
        raise UnsupportedLayerError(f"{next(iter(producers))} (conv): producers overlap partially; no channel rule")
    out = []
    for part in sets:
        prods = [n for n, r in producers.items() if set(r) <= part]
        span = [n for n, r in producers.items() if not set(r) <= part and set(r) & part]
        ins = [(n, [i for i, r in zip(idxs, roots) if r in part]) for n, idxs, roots in inputs]
        out.append(_Part(producers=prods, norms=[n for n, r in norms.items() if set(r) <= part],
                         inputs=[(n, i) for n, i in ins if i and not (n in prods and infos[n].groups > 1)],
                         width=len(part), spanning=span))
    return out


def _runs(name: str, mod: nn.Module, slots: list[int | None], groups: list[ChannelGroup]) -> tuple[int | FixedInput, ...]:
    """Collapse per-channel group ids into ``in_groups``: one entry per concatenated (or flattened) copy."""
    out: list[int | FixedInput] = []
    k = 0
    while k < len(slots):
        g, j = slots[k], k
        while j < len(slots) and slots[j] == g:
            j += 1
        if g is None or g == _FIXED:
            out.append(FixedInput(j - k))
        else:
            w = groups[g].width
            if (j - k) % w:
                raise UnsupportedLayerError(f"{name} ({type(mod).__name__}): input channels {k}:{j} are a part "
                                            f"of group '{groups[g].name}' (width {w}); channel slices have no rule")
            out.extend([g] * ((j - k) // w))
        k = j
    return tuple(out)


def _width_keys(model: nn.Module) -> dict[str, str]:
    """Layer name → the model's own width key (``model.layer_modules()``), when it has one."""
    fn = getattr(model, "layer_modules", None)
    if not callable(fn):
        return {}
    names = {id(m): n for n, m in model.named_modules()}
    return {names[id(m)]: key for key, m in fn().items() if id(m) in names}


def _param_count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters(recurse=False))


def _layer_params(lay: Layer) -> int:
    return lay.kernel[0] * lay.kernel[1] * lay.in_channels * lay.out_channels // lay.groups + (
        lay.out_channels if lay.bias else 0)
