"""Which stages a case runs, and the key of each: a hash of exactly what the stage's product depends on.

The stages are the case's method's (:mod:`bench.methods`), after the base training; a repeated stage runs once
per ``morph.iterations``. Each key hashes the settings its :class:`~bench.methods.StageSpec` reads, chained
through its parent's key, so a structure-learning stage is shared by every case that agrees on the base
training and the regularizer (e.g. all symmetry levels), and a base training by every case that agrees on
data, model, training recipe, measurement protocol and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.methods import BASE, StageSpec, get_method
from bench.store import stage_label
from bench.suite import Case, stage_key
from bench.suite.case import short_hash


@dataclass(frozen=True)
class Stage:
    """One step of a case's pipeline.

    Attributes:
        name: the stage name ("base", "learn", "shrink", "expand", "uniform", or a registered method's own).
        iteration: the iteration (1, 2, …) of a repeated stage, else None.
        key: the product's key (shared between cases that agree on everything it depends on).
        parent: the stage whose product this one starts from.
        spec: what the stage reads and runs.
    """

    name: str
    iteration: int | None
    key: str
    parent: Stage | None = None
    spec: StageSpec = field(default=BASE, compare=False, repr=False)

    @property
    def label(self) -> str:
        return stage_label(self.name, self.iteration)


def _stage(case: Case, spec: StageSpec, iteration: int | None, parent: Stage | None) -> Stage:
    own = stage_key(case, spec.name, spec.reads)
    key = short_hash({"stage": own, "parent": parent.key if parent else None}, 16)
    return Stage(spec.name, iteration, key, parent, spec)


def plan_case(case: Case) -> list[Stage]:
    """base → the method's stages, its repeated ones × ``morph.iterations`` (MorphNet and the blog's method:
    base → (learn → shrink → expand) × iterations; the uniform baseline: base → uniform)."""
    method = get_method(case.config.morph.method)
    stages = [_stage(case, BASE, None, None)]
    repeated = [s for s in method.stages if s.repeats]
    for spec in method.stages:
        if spec.repeats and spec is repeated[0]:
            for k in range(1, case.config.morph.iterations + 1):
                for rspec in repeated:
                    stages.append(_stage(case, rspec, k, stages[-1]))
        elif not spec.repeats:
            stages.append(_stage(case, spec, None, stages[-1]))
    return stages
