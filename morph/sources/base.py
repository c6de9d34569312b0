"""A source turns a group's parameters into one non-negative strength per channel (MorphNet's
``regularization_vector``); a channel is alive when its strength exceeds the threshold (``alive_vector``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from morph.graph import ChannelGraph, ChannelGroup
from morph.registry import Registry


@dataclass(frozen=True)
class Member:
    """One parameter tensor that carries a group's channels along ``dim`` (a BN γ, a conv's weight)."""

    name: str
    param: nn.Parameter
    dim: int


@dataclass(frozen=True)
class GroupStrength:
    """One group's per-channel strength, alive vector and proximal step (MorphNet's OpRegularizer).

    A subclass per kind of strength says how a member's tensor becomes per-channel strengths (``of_member``)
    and how the L1 part of the penalty shrinks it (``prox``); several members (tied channels) are combined by
    an element-wise max, MorphNet's default ``MaxGroupingRegularizer`` (alive = OR).

    Attributes:
        kind: the source's name for reports and histograms ("gamma", "group_lasso", …).
        members: the tensors.
    """

    kind: str
    members: tuple[Member, ...]
    #: Whether the L1 part can be taken as a proximal step (:class:`morph.ProximalStep`); a source without one
    #: learns through the penalty's gradient only.
    proximal = True

    def of_member(self, member: Member) -> torch.Tensor:
        raise NotImplementedError

    def prox(self, member: Member, tau: float, mask: torch.Tensor | None) -> None:
        """Shrink ``member`` in place by the prox of ``tau`` × its strength, on the channels in ``mask`` (all
        when None)."""
        raise NotImplementedError

    @property
    def scale_params(self) -> tuple[nn.Parameter, ...]:
        """Parameters that are the strengths themselves (a BN γ), which may get a learning rate of their own."""
        return ()

    def per_member(self) -> list[torch.Tensor]:
        return [self.of_member(m) for m in self.members]

    def strength(self) -> torch.Tensor:
        vals = self.per_member()
        return vals[0] if len(vals) == 1 else torch.stack(vals).amax(0)

    def alive(self, threshold: float) -> torch.Tensor:
        """MorphNet's alive vector: channels whose strength is strictly above ``threshold`` (no gradient)."""
        with torch.no_grad():
            return self.strength().detach() > threshold


@dataclass(frozen=True)
class ScaleStrength(GroupStrength):
    """``|p|`` of scale parameters (BN γ): L1, whose prox is the soft threshold."""

    def of_member(self, member: Member) -> torch.Tensor:
        return member.param.abs()

    def prox(self, member: Member, tau: float, mask: torch.Tensor | None) -> None:
        p = member.param
        new = torch.sign(p) * (p.abs() - tau).clamp_min(0)
        p.copy_(new if mask is None else torch.where(mask, new, p))

    @property
    def scale_params(self) -> tuple[nn.Parameter, ...]:
        return tuple(m.param for m in self.members)


@dataclass(frozen=True)
class ChannelRMSStrength(GroupStrength):
    """RMS of each output channel's weights (group lasso): its prox shrinks each channel's weight vector."""

    def of_member(self, member: Member) -> torch.Tensor:
        return channel_rms(member.param, member.dim)

    def prox(self, member: Member, tau: float, mask: torch.Tensor | None) -> None:
        """Prox of ``tau · rms(w_c)`` = ``(tau/√d) · ‖w_c‖₂`` on each channel's weight vector."""
        w, dim = member.param, member.dim
        d = w.numel() // w.shape[dim]
        norm = channel_rms(w, dim) * d**0.5
        scale = (1 - (tau / d**0.5) / norm).clamp_min(0)
        if mask is not None:
            scale = torch.where(mask, scale, torch.ones_like(scale))
        shape = [1] * w.dim()
        shape[dim] = -1
        w.mul_(scale.reshape(shape))


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
