"""Steer λ during structure learning so that the alive cost follows a path down to a target share.

Why: λ's useful range depends on the resource, the model and the data. On the quick suites a FLOPs λ·G₀ of
1000 zeroed a U-Net's full-resolution layers within an epoch while 100 pruned nothing, and a per-channel
group-lasso λ left 68% of the model where 10% was wanted. A cost target is what a user knows ("half the
FLOPs"); this controller finds the λ that gets there.

How: after every optimizer step the alive cost (``MorphNetRegularizer.cost``, channels above the threshold)
is compared with a path that falls linearly from the seed's cost to ``target`` × that cost over the first
``settle`` share of the steps and then stays flat. λ is multiplied by ``(cost / path) ** gain``, clamped to
``[1/max_step, max_step]``: a proportional controller on a log scale, so λ grows geometrically while nothing is
pruned, and falls fast as soon as the cost runs ahead of the path. That matters because pruning is nearly
irreversible (a proximal step leaves dead γ at exactly 0) and alive counts lag λ (a γ must travel to the
threshold), so overshooting the path is the error to avoid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from morph.errors import MorphError


@dataclass
class StrengthController:
    """``update(strength, cost_share)`` after each step returns the next λ.

    Args:
        target: the alive cost to reach, as a share of the seed model's cost, in (0, 1).
        total_steps: optimizer steps of the structure-learning run.
        gain: exponent on ``cost / path`` (> 0).
        max_step: largest change of λ in one step, as a factor (> 1).
        settle: share of the steps over which the path falls to ``target``.
    """

    target: float
    total_steps: int
    gain: float = 4.0
    max_step: float = 2.0
    settle: float = 0.7
    step: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.target < 1.0:
            raise MorphError(f"target cost share must be in (0, 1), got {self.target}")
        if self.total_steps < 1 or self.gain <= 0 or self.max_step <= 1.0 or not 0.0 < self.settle <= 1.0:
            raise MorphError(f"need total_steps ≥ 1, gain > 0, max_step > 1 and settle in (0, 1], got "
                             f"{self.total_steps}, {self.gain}, {self.max_step} and {self.settle}")

    def path(self, step: int) -> float:
        """The cost share aimed at after ``step`` steps: 1 → ``target`` linearly, then flat."""
        done = min(1.0, step / (self.settle * self.total_steps))
        return 1.0 - (1.0 - self.target) * done

    def update(self, strength: float, cost_share: float) -> float:
        self.step += 1
        if not math.isfinite(cost_share) or cost_share <= 0:
            return strength
        change = (cost_share / self.path(self.step)) ** self.gain
        return strength * min(max(change, 1.0 / self.max_step), self.max_step)


@dataclass
class LearnSchedule:
    """λ and the protected floor at each step of a structure-learning run, in one place.

    ``strength_now()`` and ``floor_now()`` are what the next proximal step uses; ``advance(cost_share, cap)``
    after each step moves the schedule on (and lets a ``target`` controller steer λ).

    Args:
        strength: λ (a controller's starting value).
        total_steps: optimizer steps of the run.
        warmup_steps: λ ramps linearly from 0 over these steps (``(k + 1) / warmup`` of λ at step k); a controller
            steers only after them.
        target: a cost share for :class:`StrengthController` (None: λ stays fixed).
        floor: the protected share of each group's channels (:class:`morph.ProximalStep`'s ``keep``).
        floor_ramp_steps: the floor falls linearly from every channel to ``floor`` over these steps.
    """

    strength: float
    total_steps: int
    warmup_steps: int = 0
    target: float | None = None
    floor: float = 0.0
    floor_ramp_steps: int = 0
    step: int = field(default=0, init=False)
    control: StrengthController | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.warmup_steps < 0 or self.floor_ramp_steps < 0 or not 0.0 <= self.floor < 1.0:
            raise MorphError(f"need warmup_steps ≥ 0, floor_ramp_steps ≥ 0 and floor in [0, 1), got "
                             f"{self.warmup_steps}, {self.floor_ramp_steps} and {self.floor}")
        if self.target is not None:
            self.control = StrengthController(self.target, max(1, self.total_steps - self.warmup_steps))

    def strength_now(self) -> float:
        """λ in force at this step: the warm-up's share of it during the warm-up."""
        if not self.warmup_steps:
            return self.strength
        return self.strength * min(1.0, (self.step + 1) / self.warmup_steps)

    def floor_now(self) -> float:
        """The protected share of each group at this step."""
        if not self.floor_ramp_steps:
            return self.floor
        return max(self.floor, 1.0 - (1.0 - self.floor) * (self.step + 1) / self.floor_ramp_steps)

    def advance(self, cost_share: float, cap: float = math.inf) -> None:
        """After a step: a controller steers λ from the alive ``cost_share``, never above ``cap`` (the proximal
        step's own cap: λ beyond it would not be applied, and the controller would wind it up while the cost
        lags)."""
        if self.control is not None and self.step + 1 >= self.warmup_steps:
            self.strength = min(self.control.update(self.strength, cost_share), cap)
        self.step += 1
