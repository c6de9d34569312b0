"""Which stages a case runs, and the key of each: a hash of exactly what the stage's product depends on.

Keys chain through parents, so a structure-learning stage is shared by every case that agrees on the base
training and the regularizer (e.g. all symmetry levels), and a base training by every case that agrees on
data, model, training recipe, measurement protocol and seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.suite import Case, stage_key
from bench.suite.case import short_hash

BASE_DEPS = ("data", "model", "train", "measure", "seed")
LEARN_DEPS = (
    "morph.method", "morph.resource", "morph.source", "morph.strength", "morph.threshold", "morph.optimizer",
    "morph.lr", "morph.strength_lr", "morph.relative_strength", "morph.target_cost", "morph.epochs", "morph.proximal",
    "morph.device_profile", "morph.warm_start", "morph.dead_layers",
)
SHRINK_DEPS = ("morph.min_fraction", "morph.min_width", "morph.multiple", "morph.symmetry", "morph.index_shift_bug",
               "morph.channel_divisor")
EXPAND_DEPS = ("morph.budget", "morph.expand_factor", "morph.resource", "morph.device_profile", "morph.budget_by")
UNIFORM_DEPS = (*EXPAND_DEPS, "morph.multiple", "morph.min_width", "morph.symmetry", "morph.channel_divisor")


@dataclass(frozen=True)
class Stage:
    """One step of a case's pipeline.

    Attributes:
        name: "base", "learn", "shrink", "expand" or "uniform".
        iteration: MorphNet iteration (1, 2, …) for learn/shrink/expand, else None.
        key: the product's key (shared between cases that agree on everything it depends on).
        parent: the stage whose product this one starts from.
    """

    name: str
    iteration: int | None
    key: str
    parent: Stage | None = None

    @property
    def label(self) -> str:
        return self.name if self.iteration is None else f"{self.name}-it{self.iteration}"


def _key(case: Case, name: str, deps: Iterable[str], parent: Stage | None) -> str:
    own = stage_key(case, name, deps)
    return short_hash({"stage": own, "parent": parent.key if parent else None}, 16)


def plan_case(case: Case) -> list[Stage]:
    """base → (learn → shrink → expand) × iterations for MorphNet and the blog's method; base → uniform for
    the uniform width-multiplier baseline."""
    base = Stage("base", None, _key(case, "base", BASE_DEPS, None))
    stages = [base]
    morph = case.config.morph
    if morph.method == "uniform":
        stages.append(Stage("uniform", None, _key(case, "uniform", UNIFORM_DEPS, base), base))
        return stages
    parent = base
    for k in range(1, morph.iterations + 1):
        learn = Stage("learn", k, _key(case, "learn", LEARN_DEPS, parent), parent)
        shrink = Stage("shrink", k, _key(case, "shrink", SHRINK_DEPS, learn), learn)
        expand = Stage("expand", k, _key(case, "expand", EXPAND_DEPS, shrink), shrink)
        stages += [learn, shrink, expand]
        parent = expand
    return stages
