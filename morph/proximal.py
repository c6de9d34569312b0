"""A proximal (decoupled) L1 step for MorphNet's penalty, so structure learning works with Adam too.

Why: added to the loss, λ·G gives every γ of a layer the same constant-sign gradient. Adam divides each
gradient by its own running RMS, so a dominant constant gradient becomes the same ≈lr step for every γ,
whatever its cost weight: all γ of a layer drift down together and none is singled out (the blog's
failure, blog-code-facts §7 item 3). A proximal step keeps the penalty out of the optimiser: after
``optimizer.step()`` on the task loss alone, each channel's strength is soft-thresholded by
``lr · λ · k_g``, where ``k_g = ∂G/∂strength`` of its group at the current alive counts, so expensive
channels shrink faster and unhelpful ones reach exactly zero. SGD+momentum with the penalty in the loss
(MorphNet's own recipe) remains the recommended optimiser for structure learning.

Tied channels (several BNs or producers in one group) use MorphNet's max grouping; the prox is applied to
the member that attains the max for each channel, which is where the subgradient of max acts.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from morph.errors import MorphError
from morph.regularizer import MorphNetRegularizer


class ProximalStep:
    """``after_step(optimizer)`` shrinks strengths by ``lr · λ · k_g``, each source by its own prox
    (:meth:`morph.sources.GroupStrength.prox`).

    Args:
        regularizer: the MorphNetRegularizer whose penalty is being minimised (do not also add it to the loss).
        strength: λ.
        lr: the step size; ``None`` reads, at each call, the learning rate of the optimizer's param group that
            holds each parameter (strengths often get a larger rate than the other weights).
        keep: a protected floor: the ``ceil(keep · width)`` strongest channels of each group are left out of the
            step, so the penalty cannot empty a layer whose channels are expensive (a FLOPs cost at full
            resolution); the task loss still moves them. 0 protects nothing.
        max_rate: a cap on λ: the step uses ``min(strength, max_rate / max_g k_g)``, so no channel shrinks by
            more than ``max_rate · lr`` in one step. Why: Adam moves a parameter by about ``lr`` per step whatever
            its gradient, so where ``λ·k_g`` is well above 1 the task loss cannot hold any channel of group ``g``
            and the whole group shrinks in lockstep, at a speed set by its cost alone. ``None``: no cap.
    """

    def __init__(self, regularizer: MorphNetRegularizer, strength: float, lr: float | None = None,
                 keep: float = 0.0, max_rate: float | None = None) -> None:
        if strength < 0:
            raise ValueError(f"strength must be ≥ 0, got {strength}")
        if not 0 <= keep < 1:
            raise ValueError(f"keep must be in [0, 1), got {keep}")
        if max_rate is not None and max_rate <= 0:
            raise ValueError(f"max_rate must be > 0, got {max_rate}")
        self.keep, self.max_rate = keep, max_rate
        #: the cap on λ at the last step's coefficients (inf: none); a controller reads it so that it does not wind
        #: λ up past what can be applied
        self.cap = math.inf
        without = sorted({src.kind for src in regularizer.sources if not src.proximal})
        if without:
            raise MorphError(f"source {', '.join(without)} has no proximal step: add λ·penalty() to the loss instead")
        self.reg, self.strength, self.lr = regularizer, strength, lr

    def __call__(self, optimizer: Any = None) -> None:
        self.after_step(optimizer)

    @torch.no_grad()
    def after_step(self, optimizer: Any = None) -> None:
        rates = _group_rates(optimizer) if self.lr is None else {}
        with torch.enable_grad():
            coeffs = self.reg.channel_coefficients()
        top = float(coeffs.max()) if coeffs.numel() else 0.0
        self.cap = self.max_rate / top if self.max_rate is not None and top > 0 else math.inf
        for src, k in zip(self.reg.sources, coeffs.tolist()):
            if self.applied * k <= 0:
                continue
            vals = src.per_member()
            winner = torch.stack(vals).argmax(0) if len(vals) > 1 else None
            free = self._unprotected(src)
            for j, member in enumerate(src.members):
                lr = self.lr if self.lr is not None else rates.get(id(member.param))
                if lr is None:
                    raise MorphError("ProximalStep: a regularized parameter is not in the optimizer; pass lr=")
                mask = None if winner is None else winner == j
                if free is not None:
                    mask = free if mask is None else mask & free
                src.prox(member, lr * self.applied * k, mask)

    @property
    def applied(self) -> float:
        """λ of the step: ``strength`` under the cap of the last step's coefficients."""
        return min(self.strength, self.cap)

    def _unprotected(self, src: Any) -> torch.Tensor | None:
        """The channels the step may shrink: all but the group's ``ceil(keep · width)`` strongest (None: all)."""
        if self.keep <= 0:
            return None
        strength = src.strength().detach()
        n = math.ceil(self.keep * strength.numel())
        free = torch.ones_like(strength, dtype=torch.bool)
        free[torch.topk(strength, n).indices] = False
        return free


def _group_rates(optimizer: Any) -> dict[int, float]:
    if optimizer is None:
        raise MorphError("ProximalStep needs the optimizer (or a fixed lr) to know the step size")
    return {id(p): float(g["lr"]) for g in optimizer.param_groups for p in g["params"]}
