"""The ``logistic_sigmoid`` source (FiGS): per-channel gates' sampled masks instead of |γ| (see morph.gates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from morph.errors import MorphError
from morph.gates import GateGroup, combine_alive, gate_group, inference_mask
from morph.graph import ChannelGraph, ChannelGroup
from morph.sources.base import GroupStrength, Member, register_source


@dataclass(frozen=True)
class LogisticSigmoidStrength(GroupStrength):
    """A group's strength is its gates' regularization vector (``1 − Π(1 − m_i)`` over tied gates, the sampled
    masks while training). Its alive vector is the OR over tied gates of the *inference* mask ≥ the gates'
    threshold (0.1, not the regularizer's, which is for magnitudes such as |γ|), i.e. ``logit > 0``: what
    morph-net's structure exporter reads from an inference graph. The training-mode mask is a random draw, and a
    cost, a shrink or a λ controller must not depend on one."""

    gates: GateGroup
    proximal = False

    def per_member(self) -> list[torch.Tensor]:
        return [g.regularization_vector() for _, g in self.gates.gates]

    def strength(self) -> torch.Tensor:
        return self.gates.regularization_vector()

    def alive(self, threshold: float | None = None) -> torch.Tensor:
        with torch.no_grad():
            return combine_alive([inference_mask(g.logits, g.soft_mask_for_inference) >= g.alive_threshold
                                  for _, g in self.gates.gates])

    def of_member(self, member: Member) -> torch.Tensor:
        return dict(self.gates.gates)[member.name].regularization_vector()

    @property
    def scale_params(self) -> tuple[torch.nn.Parameter, ...]:
        """The gate logits: the strengths themselves, so ``strength_lr`` gives them a rate of their own (at the
        task's 1e-3 Adam rate a logit needs ~2,500 steps to travel from 2.5 to 0)."""
        return tuple(m.param for m in self.members)

    def prox(self, member: Member, tau: float, mask: torch.Tensor | None) -> None:
        raise MorphError("logistic_sigmoid gates learn through the penalty's gradient; they have no proximal step")


@register_source("logistic_sigmoid")
def logistic_sigmoid(graph: ChannelGraph, group: ChannelGroup, **options: Any) -> GroupStrength:
    """Gates after the group's norms (or on its producers' outputs), inserted into the model if missing: then
    build the optimizer after the regularizer, or call :func:`morph.gates.insert_gates` first (its options,
    e.g. ``regularize_on_mask=False``, stay with the gates the source reuses)."""
    gates = gate_group(graph, group, **options)
    members = tuple(Member(site, g.logits, 0) for site, g in gates.gates)
    return LogisticSigmoidStrength("logistic_sigmoid", members, gates)


@register_source("logistic_sigmoid_expected")
def logistic_sigmoid_expected(graph: ChannelGraph, group: ChannelGroup, **options: Any) -> GroupStrength:
    """FiGS gates whose regularization vector is ``p = sigmoid(l)``, the sampled mask's expectation as τ → 0
    (morph-net's ``regularize_on_mask=False``). At τ = 1e-3 the sampled mask's gradient, ``σ'((l+u)/τ)/τ``, is
    ~0 for almost every draw, so the penalty on the mask barely moves a logit; on ``p`` its gradient is
    deterministic. Alive, grouping and costs are as for ``logistic_sigmoid``."""
    options.setdefault("regularize_on_mask", False)
    gates = gate_group(graph, group, **options)
    if any(g.regularize_on_mask for _, g in gates.gates):
        raise MorphError(f"group {group.name}: its gates regularize the sampled mask (inserted with "
                         "regularize_on_mask=True); logistic_sigmoid_expected needs gates on p = sigmoid(l)")
    members = tuple(Member(site, g.logits, 0) for site, g in gates.gates)
    return LogisticSigmoidStrength("logistic_sigmoid_expected", members, gates)
