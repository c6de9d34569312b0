"""The two MorphNet sources: BN γ (for nets with norms) and per-channel group lasso (for the rest)."""

from __future__ import annotations

from torch import nn

from morph.errors import MorphError
from morph.graph import ChannelGraph, ChannelGroup
from morph.sources.base import GroupStrength, Member, register_source

# Which weight axis holds a producer's output channels.
_OUT_DIM: dict[type[nn.Module], int] = {nn.Conv2d: 0, nn.ConvTranspose2d: 1, nn.Linear: 0}


def _out_dim(name: str, m: nn.Module) -> int:
    for cls in type(m).__mro__:
        if cls in _OUT_DIM:
            return _OUT_DIM[cls]
    raise MorphError(f"{name} ({type(m).__name__}): no group-lasso rule for this producer")


@register_source("group_lasso")
def group_lasso(graph: ChannelGraph, group: ChannelGroup) -> GroupStrength:
    """RMS of each output channel's weights, max over the group's producers.

    As MorphNet, depthwise convs are not sources (they follow their producer), unless nothing else is.
    """
    members = []
    for p in group.producers:
        m = graph.modules[p]
        if getattr(m, "groups", 1) > 1 and len(group.producers) > 1:
            continue
        members.append(Member(p, m.weight, _out_dim(p, m)))  # type: ignore[arg-type]
    return GroupStrength("group_lasso", tuple(members))


@register_source("gamma")
def gamma(graph: ChannelGraph, group: ChannelGroup) -> GroupStrength:
    """|γ| of the group's BatchNorms (max over several), falling back to group lasso for groups with no
    affine BN (transpose-conv outputs, SE convs, FPN's GroupNorm and norm-free groups): a GroupNorm γ is not
    used because GN statistics mix channels, so a small γ does not make a channel removable."""
    members = [Member(n, m.weight, 0) for n in group.norms  # type: ignore[arg-type]
               if isinstance(m := graph.modules[n], nn.modules.batchnorm._BatchNorm) and m.weight is not None]
    if not members:
        return group_lasso(graph, group)
    return GroupStrength("gamma", tuple(members))
