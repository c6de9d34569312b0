"""Layer rules: everything morph needs to know about one weighted layer type, in one object per type.

A rule says which module types it covers, what the graph builder reads of a module (kind, kernel, channels,
conv groups), the spatial sizes its cost uses, which weight axis holds its output channels (group-lasso
sources read it), and how to resize a module in place (the generic rebuild). ``register_layer(rule)`` adds a
type for every model; ``build_graph(..., customized=[rule])`` adds one for one call only (like Torch-Pruning's
``customized_pruners`` or morph-net's ``op_handler_dict``). A type Torch-Pruning does not know needs the rule's
``pruner`` (a ``torch_pruning`` pruning function), so that its channels are traced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from morph.errors import UnsupportedLayerError
from morph.registry import Registry


@dataclass(frozen=True)
class LayerSpec:
    """What the graph builder reads of one weighted module."""

    kind: str
    kernel: tuple[int, int]
    groups: int
    in_channels: int
    out_channels: int


class LayerRule:
    """Grouping, costing and resizing of one weighted layer type (a subclass per type; see the module doc).

    Attributes:
        kind: the name the rule is registered under; a :class:`~morph.graph.Layer`'s ``kind``.
        types: module types it covers (subclasses match, e.g. smp's same-padding conv).
        out_dim: the weight axis that holds the output channels.
        flat_input: takes a flattened (2-D) input, so a reshape feeding it does not mix channels.
        pruner: a Torch-Pruning pruning function for a type Torch-Pruning does not know (else None).
    """

    kind: str = ""
    types: tuple[type[nn.Module], ...] = ()
    out_dim: int = 0
    flat_input: bool = False
    pruner: Any = None

    def spec(self, m: nn.Module) -> LayerSpec:
        raise NotImplementedError

    def spatial(self, name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
                ) -> tuple[tuple[int, int], tuple[int, int]]:
        """(input H×W, output H×W) per example from the traced shapes."""
        return tuple(in_shape[2:]), tuple(out_shape[2:])  # type: ignore[return-value]

    def cost_hw(self, layer: Any) -> tuple[int, int]:
        """The spatial positions a layer's multiply-adds scale with (its output's, for a conv)."""
        return layer.out_hw  # type: ignore[no-any-return]

    def resize(self, m: nn.Module, n_in: int, n_out: int, groups: int) -> None:
        """Give ``m`` new channel counts and fresh parameters in place (``reset_parameters`` re-initialises)."""
        raise NotImplementedError


def fresh(like: torch.Tensor, *shape: int) -> nn.Parameter:
    """An uninitialised parameter of ``shape`` with ``like``'s dtype, device and ``requires_grad``."""
    return nn.Parameter(torch.empty(shape, dtype=like.dtype, device=like.device), requires_grad=like.requires_grad)


def _fresh_bias(m: nn.Module, n_out: int) -> None:
    if getattr(m, "bias", None) is not None:
        m.bias = fresh(m.bias, n_out)  # type: ignore[arg-type]


class ConvRule(LayerRule):
    kind, types, out_dim = "conv", (nn.Conv2d,), 0

    def spec(self, m: nn.Module) -> LayerSpec:
        assert isinstance(m, nn.modules.conv._ConvNd)
        kernel = tuple(m.kernel_size)
        return LayerSpec(self.kind, kernel, m.groups, m.in_channels, m.out_channels)  # type: ignore[arg-type]

    def resize(self, m: nn.Module, n_in: int, n_out: int, groups: int) -> None:
        assert isinstance(m, nn.modules.conv._ConvNd)
        k = tuple(m.weight.shape[2:])
        m.in_channels, m.out_channels, m.groups = n_in, n_out, groups
        shape = (n_in, n_out // groups) if m.transposed else (n_out, n_in // groups)
        m.weight = fresh(m.weight, *shape, *k)
        _fresh_bias(m, n_out)
        m.reset_parameters()


class TransposeConvRule(ConvRule):
    kind, types, out_dim = "tconv", (nn.ConvTranspose2d,), 1

    def cost_hw(self, layer: Any) -> tuple[int, int]:
        # A transposed conv's MACs scale with its input (the small side), as MorphNet's Conv2DBackpropInput.
        return layer.in_hw  # type: ignore[no-any-return]


class LinearRule(LayerRule):
    kind, types, out_dim, flat_input = "linear", (nn.Linear,), 0, True

    def spec(self, m: nn.Module) -> LayerSpec:
        assert isinstance(m, nn.Linear)
        return LayerSpec(self.kind, (1, 1), 1, m.in_features, m.out_features)

    def spatial(self, name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
                ) -> tuple[tuple[int, int], tuple[int, int]]:
        if len(in_shape) != 2:
            raise UnsupportedLayerError(f"{name} (Linear): applied to a {len(in_shape)}-D input; no cost rule")
        return (1, 1), (1, 1)

    def resize(self, m: nn.Module, n_in: int, n_out: int, groups: int) -> None:
        assert isinstance(m, nn.Linear)
        m.in_features, m.out_features = n_in, n_out
        m.weight = fresh(m.weight, n_out, n_in)
        _fresh_bias(m, n_out)
        m.reset_parameters()


LAYERS: Registry[LayerRule] = Registry("layer rule")


def register_layer(rule: LayerRule) -> LayerRule:
    """Add a layer type for every model (one rule per ``kind``). Returns the rule."""
    LAYERS.register(rule.kind)(rule)
    return rule


for _rule in (ConvRule(), TransposeConvRule(), LinearRule()):
    register_layer(_rule)


class LayerRules:
    """The rules one graph build uses: the registered ones plus that call's ``customized`` ones (which win)."""

    def __init__(self, customized: Iterable[LayerRule] = ()) -> None:
        extra = list(customized)
        self.by_kind = {k: LAYERS.get(k) for k in LAYERS} | {r.kind: r for r in extra}
        self._by_type: dict[type[nn.Module], LayerRule] = {}
        for rule in [*(LAYERS.get(k) for k in LAYERS), *extra]:
            self._by_type.update({t: rule for t in rule.types})

    def for_module(self, m: nn.Module) -> LayerRule | None:
        """The rule of ``m``'s nearest registered type in its MRO, or None for a module that is no layer."""
        for cls in type(m).__mro__:
            if cls in self._by_type:
                return self._by_type[cls]
        return None

    def root_types(self) -> list[type[nn.Module]]:
        return list(self._by_type)

    def pruners(self) -> dict[type[nn.Module], Any]:
        return {t: r.pruner for t, r in self._by_type.items() if r.pruner is not None}


def rule_of(layer: Any) -> LayerRule:
    """The rule a :class:`~morph.graph.Layer` was built with (registered by ``kind`` for a hand-made one)."""
    rule = getattr(layer, "rule", None)
    if rule is not None:
        return rule  # type: ignore[no-any-return]
    if layer.kind not in LAYERS:
        raise UnsupportedLayerError(f"{layer.name} ({layer.kind}): no cost rule for this layer kind")
    return LAYERS.get(layer.kind)
