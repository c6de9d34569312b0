"""Which channels are tied: trace a model into a :class:`~morph.graph.ChannelGraph`."""

from __future__ import annotations

from morph.groups.build import build_graph

__all__ = ["build_graph"]
