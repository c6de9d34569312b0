"""The two MorphNet sources: BN γ (for nets with norms) and per-channel group lasso (for the rest)."""

from __future__ import annotations

from torch import nn

from morph.graph import ChannelGraph, ChannelGroup
from morph.layers import rule_of
from morph.sources.base import ChannelRMSStrength, GroupStrength, Member, ScaleStrength, register_source

@register_source("group_lasso")
def group_lasso(graph: ChannelGraph, group: ChannelGroup) -> GroupStrength:
    """RMS of each output channel's weights, max over the group's producers.

    As MorphNet, depthwise convs are not sources (they follow their producer), unless nothing else is.
    """
    members = []
    for p in group.producers:
        layer = graph.layer(p)
        if layer.groups > 1 and len(group.producers) > 1:
            continue
        members.append(Member(p, graph.modules[p].weight, rule_of(layer).out_dim))  # type: ignore[arg-type]
    return ChannelRMSStrength("group_lasso", tuple(members))


@register_source("gamma")
def gamma(graph: ChannelGraph, group: ChannelGroup) -> GroupStrength:
    """|γ| of the group's BatchNorms (max over several), falling back to group lasso for groups with no
    affine BN (transpose-conv outputs, SE convs, FPN's GroupNorm and norm-free groups): a GroupNorm γ is not
    used because GN statistics mix channels, so a small γ does not make a channel removable."""
    members = [Member(n, m.weight, 0) for n in group.norms  # type: ignore[arg-type]
               if isinstance(m := graph.modules[n], nn.modules.batchnorm._BatchNorm) and m.weight is not None]
    if not members:
        return group_lasso(graph, group)
    return ScaleStrength("gamma", tuple(members))
