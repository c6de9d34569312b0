"""The uniform width multiplier: the seed widths scaled by one multiplier to the budget, no structure learning.
The baseline every learning method is reported against."""

from __future__ import annotations

from typing import Any

from bench.methods.base import Method, StageSettings, StageSpec, register_method
from bench.methods.morphnet import BUDGET_READS


def uniform(ctx: Any, m: StageSettings, parent: Any) -> Any:
    from bench.pipeline import stages as S

    target = S.multiplier_target(ctx, m, ctx.seed_widths)
    return S.train_from_scratch(ctx, target.pop("widths"), notes=target)


UNIFORM = register_method(Method(
    name="uniform", label="uniform", baseline=True,
    stages=(
        # min_fraction floors the search but is not in the key: uniform results were keyed without it, and
        # keeping their keys valid outweighs the gap (two cases differing only in min_fraction share a product).
        StageSpec("uniform", "Uniform (same budget)", uniform,
                  reads=(*BUDGET_READS, "morph.multiple", "morph.min_width", "morph.symmetry", "morph.channel_divisor"),
                  unkeyed=("min_fraction",), repeats=False),
    ),
    meets_budget="width multiplier search over the seed widths",
))
