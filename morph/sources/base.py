"""A source turns a group's parameters into one non-negative strength per channel (MorphNet's
``regularization_vector``); a channel is alive when its strength exceeds the threshold (``alive_vector``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from morph._registry import Registry
from morph.graph import ChannelGraph, ChannelGroup


@dataclass(frozen=True)
class Member:
    """One parameter tensor that carries a group's channels along ``dim`` (a BN γ, a conv's weight)."""

    name: str
    param: nn.Parameter
    dim: int


@dataclass(frozen=True)
class GroupStrength:
    """How one group's per-channel strength is computed.

    Attributes:
        kind: "gamma" (|γ|) or "group_lasso" (RMS of each output channel's weights).
        members: the tensors; several members (tied channels) are combined by an element-wise max,
            MorphNet's default ``MaxGroupingRegularizer`` (alive = OR).
    """

    kind: str
    members: tuple[Member, ...]

    def per_member(self) -> list[torch.Tensor]:
        if self.kind == "gamma":
            return [m.param.abs() for m in self.members]
        return [channel_rms(m.param, m.dim) for m in self.members]

    def strength(self) -> torch.Tensor:
        vals = self.per_member()
        return vals[0] if len(vals) == 1 else torch.stack(vals).amax(0)


def channel_rms(w: torch.Tensor, dim: int) -> torch.Tensor:
    """``sqrt(mean(w²))`` over all dims but ``dim``: MorphNet's group-lasso norm with ``l1_fraction=0``."""
    return w.transpose(0, dim).reshape(w.shape[dim], -1).pow(2).mean(1).clamp_min(1e-30).sqrt()


SourceFn = Callable[[ChannelGraph, ChannelGroup], GroupStrength]
SOURCES: Registry[SourceFn] = Registry("source")


def register_source(name: str) -> Callable[[SourceFn], SourceFn]:
    return SOURCES.register(name)


def create_source(name: str) -> SourceFn:
    return SOURCES.get(name)


def source_names() -> list[str]:
    return SOURCES.names()
