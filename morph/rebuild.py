"""A fresh model at new widths: the last step of shrink or expand (MorphNet retrains from scratch).

Two paths. Models of the ``morph.models`` family (``.widths``, ``.layer_modules()``, ``.rebuild()``) are
rebuilt natively from their width keys. Anything else (smp, timm) is deep-copied and every layer and norm
of every channel group is resized in place by its layer rule (:mod:`morph.layers`) and re-initialised;
resizing the module object rather than constructing a new one keeps subclasses' behaviour
(``Conv2dStaticSamePadding``, timm's ``BatchNormAct2d``). A layer's input channels are the sum of its ``in_groups``' new widths; depthwise convs
keep ``groups == channels``; a GroupNorm gets the largest divisor of its new width not above its old
``num_groups`` (so 32 groups stay 32 when they can, and a width of 36 gets 18).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

import torch
from torch import nn

from morph.errors import MorphError, UnsupportedLayerError
from morph.gates import remove_gates
from morph.graph import ChannelGraph, FixedInput
from morph.layers import fresh, rule_of

WidthKey = str | int


def rebuild(
    model: nn.Module,
    widths: Mapping[WidthKey, int],
    example_input: torch.Tensor | None = None,
    *,
    graph: ChannelGraph | None = None,
    remove: Iterable[str] = (),
) -> nn.Module:
    """A re-initialised copy of ``model`` whose channel groups have the given widths.

    Args:
        model: a ``morph.models`` net or any model :func:`morph.groups.build_graph` can trace.
        widths: new width per group id, group name, width key, or producer layer name; others keep theirs.
        example_input: needed to trace a generic model when ``graph`` is not given.
        graph: the model's channel graph, if already built.
        remove: block convs to leave out (layer removal, :mod:`morph.layer_removal`); models with
            ``block_convs`` (the U-Nets) only.

    Raises:
        MorphError: unknown keys, conflicting widths for one group, non-positive widths, indivisible groups,
            layer removal on a model without blocks.
    """
    bad = {k: w for k, w in widths.items() if int(w) != w or w < 1}
    if bad:
        raise MorphError(f"widths must be positive integers, got {bad}")
    remove = tuple(remove)
    if remove and not hasattr(model, "block_convs"):
        raise MorphError(f"{type(model).__name__} has no conv blocks: layer removal needs a morph.models U-Net")
    if _is_native(model):
        return _rebuild_native(model, widths, graph, remove)
    if graph is None:
        if example_input is None:
            raise MorphError(f"rebuilding a {type(model).__name__} needs example_input or a graph")
        from morph.groups import build_graph

        graph = build_graph(model, example_input)
    return _rebuild_generic(model, graph, group_id_widths(graph, widths))


def _is_native(model: nn.Module) -> bool:
    return all(callable(getattr(model, a, None)) for a in ("rebuild", "layer_modules")) and hasattr(model, "widths")


def _rebuild_native(model: nn.Module, widths: Mapping[WidthKey, int], graph: ChannelGraph | None,
                    remove: tuple[str, ...] = ()) -> nn.Module:
    new = dict(model.widths)  # type: ignore[attr-defined]
    qual = {id(m): n for n, m in model.named_modules()}
    key_of = {qual[id(m)]: k for k, m in model.layer_modules().items()}  # type: ignore[operator]
    for key, w in widths.items():
        if key in remove:
            continue
        if isinstance(key, str) and key in new:
            targets = [key]
        elif isinstance(key, str) and key in key_of:
            targets = [key_of[key]]
        elif graph is not None:
            gid = group_id_widths(graph, {key: w})
            targets = [key_of[p] for i in gid for p in graph.groups[i].producers if p in key_of]
        else:
            raise MorphError(f"{type(model).__name__} has no width key or layer '{key}' (keys: {', '.join(new)})")
        for t in targets:
            new[t] = int(w)
    if remove:
        return model.rebuild(new, remove=remove)  # type: ignore[operator,no-any-return]
    return model.rebuild(new)  # type: ignore[operator,no-any-return]


def group_id_widths(graph: ChannelGraph, widths: Mapping[WidthKey, int]) -> dict[int, int]:
    """Resolve group ids, group names or producer names to ``{group id: width}``."""
    by_name = {g.name: g.id for g in graph.groups}
    by_producer = {p: g.id for g in graph.groups for p in g.producers}
    out: dict[int, int] = {}
    for key, w in widths.items():
        if isinstance(key, int) and 0 <= key < len(graph.groups):
            gid = key
        elif key in by_name:
            gid = by_name[key]  # type: ignore[index]
        elif key in by_producer:
            gid = by_producer[key]  # type: ignore[index]
        else:
            raise MorphError(f"'{key}' is neither a channel group nor a layer producing one")
        if out.get(gid, w) != w:
            raise MorphError(f"group '{graph.groups[gid].name}' given two widths: {out[gid]} and {w}")
        out[gid] = int(w)
    return out


def _rebuild_generic(model: nn.Module, graph: ChannelGraph, new: Mapping[int, int]) -> nn.Module:
    width = {g.id: new.get(g.id, g.width) for g in graph.groups}
    out = remove_gates(copy.deepcopy(model), fold=False)  # a rebuilt model is re-initialised: no FiGS gates
    for layer in graph.layers:
        n_in = sum(g.channels if isinstance(g, FixedInput) else width[g] for g in layer.in_groups)
        if layer.depthwise:  # channels = its inputs, even after a concat (then its outputs are no group)
            n_out = groups = n_in
        else:
            n_out = layer.out_channels if layer.out_group is None else width[layer.out_group]
            groups = layer.groups
            if n_in % groups or n_out % groups:
                raise MorphError(f"{layer.name}: {n_in}→{n_out} channels do not split into {groups} conv groups")
        rule_of(layer).resize(out.get_submodule(layer.name), n_in, n_out, groups)
    norm_width: dict[str, int] = {}
    for g in graph.groups:
        for n in g.norms:
            norm_width[n] = norm_width.get(n, 0) + width[g.id]
    for n, w in norm_width.items():
        _resize_norm(n, out.get_submodule(n), w)
    return out


def _resize_norm(name: str, m: nn.Module, c: int) -> None:
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        m.num_features = c
        for p in ("weight", "bias"):
            if getattr(m, p, None) is not None:
                setattr(m, p, fresh(getattr(m, p), c))
        if m.running_mean is not None:
            m.running_mean = torch.zeros(c, dtype=m.running_mean.dtype, device=m.running_mean.device)
            m.running_var = torch.ones(c, dtype=m.running_var.dtype, device=m.running_var.device)
    elif isinstance(m, nn.GroupNorm):
        m.num_groups = max(d for d in range(1, min(m.num_groups, c) + 1) if c % d == 0)
        m.num_channels = c
        if m.affine:
            m.weight, m.bias = fresh(m.weight, c), fresh(m.bias, c)
    elif isinstance(m, nn.LayerNorm) and len(m.normalized_shape) == 1:
        m.normalized_shape = (c,)
        if m.weight is not None:
            m.weight = fresh(m.weight, c)
        if getattr(m, "bias", None) is not None:
            m.bias = fresh(m.bias, c)
    else:
        raise UnsupportedLayerError(f"{name} ({type(m).__name__}): no resize rule for this norm")
    m.reset_parameters()
