"""The channel graph: which output channels are tied together, and what every layer costs.

This is the one data structure the rest of `morph` shares. ``morph.groups.build_graph`` fills it from a
model (tracing with Torch-Pruning's DependencyGraph); costs, regularizer sources, width derivation,
symmetry, width-multiplier search and rebuilding only read it. Tests build small graphs by hand.

Conventions
- A *channel group* is a set of output-channel axes that must keep the same channels alive together
  (a conv and its BN; both inputs of a residual add; a depthwise conv and its producer). Its ``width``
  is the current number of channels.
- A *layer* is a weighted op (conv, transpose conv, linear). ``in_groups`` lists, in channel order, the
  groups its input channels come from (several after a concat; ``None`` for a fixed source such as the
  image); ``out_group`` is the group of its output channels (``None`` when fixed, e.g. the head's classes).
- A depthwise layer has ``depthwise=True`` and ``in_groups == (out_group,)``; a depthwise conv over a concat
  (DeepLabV3+'s separable conv) has several ``in_groups`` and ``out_group=None``: its outputs follow its
  inputs one to one, so its alive outputs are the sum over ``in_groups``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ChannelGroup:
    """Output channels that live or die together.

    Attributes:
        id: index in ``ChannelGraph.groups``.
        width: number of channels.
        producers: names of the layers (convs, linears) whose outputs are this group.
        norms: names of normalisation modules (BN, GroupNorm) acting on these channels.
        name: a readable name (the first producer's, or the model's own width key when it has one).
        norm_params: affine parameters per channel summed over ``norms`` (2 per affine BN/GN/LN), so an
            exact parameter count of a rebuilt model can be predicted.
    """

    id: int
    width: int
    producers: tuple[str, ...]
    norms: tuple[str, ...] = ()
    name: str = ""
    norm_params: int = 0


@dataclass(frozen=True)
class FixedInput:
    """Input channels from a source with no regularizer (the image): always all alive."""

    channels: int


@dataclass(frozen=True)
class Layer:
    """A weighted op and what one unit of its cost is.

    Attributes:
        name: the module's qualified name in the model.
        kind: its layer rule's name ("conv", "tconv", "linear" or one added with ``morph.register_layer``).
        in_groups: group ids (or a FixedInput) for the input channels, in concat order.
        out_group: group id of the output channels, or None when fixed (``out_channels`` then counts).
        in_channels / out_channels: current sizes.
        kernel: (k_h, k_w); (1, 1) for linear.
        groups: the conv's ``groups`` (1 for dense, ``in_channels`` for depthwise).
        out_hw: spatial size of the output per example, (1, 1) for linear.
        in_hw: spatial size of the input per example.
        bias: whether the layer has a bias (``out_channels`` more parameters, no cost in MorphNet's model).
        rule: the :class:`~morph.layers.LayerRule` it was traced with (None: the rule registered as ``kind``).

    A flatten before a linear layer repeats the flattened group once per spatial position in ``in_groups``
    (so the widths of ``in_groups`` always add up to ``in_channels``).
    """

    name: str
    kind: str
    in_groups: tuple[int | FixedInput, ...]
    out_group: int | None
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    groups: int = 1
    out_hw: tuple[int, int] = (1, 1)
    in_hw: tuple[int, int] = (1, 1)
    bias: bool = False
    rule: Any = field(default=None, compare=False, repr=False)

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels == self.out_channels


@dataclass
class ChannelGraph:
    """Groups and layers of one model at one example input size."""

    groups: list[ChannelGroup]
    layers: list[Layer]
    modules: dict[str, nn.Module] = field(default_factory=dict, repr=False)
    constant_params: int = 0
    """Parameters no group scales: norms on fixed channels, modules the forward never calls."""

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)

    def group_of(self, producer: str) -> ChannelGroup:
        for g in self.groups:
            if producer in g.producers:
                return g
        raise KeyError(producer)
