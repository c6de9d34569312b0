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
