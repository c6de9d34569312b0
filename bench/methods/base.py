"""The Method interface: what a compression method declares so that the pipeline runs it and reports read it.

A method is one object registered under its suite name (``morph.method``). It declares its stages in order; each
:class:`StageSpec` names the settings the stage reads. A stage reads settings only through the
:class:`StageSettings` view it is handed, which refuses any setting the spec does not name, so the stage key
(:func:`bench.pipeline.plan.plan_case`), which hashes the spec's ``reads``, cannot miss a setting the stage uses.
``inherits`` are settings the stage reads that an earlier stage's key already hashes (keys chain through parents).

Nothing here imports torch: reports read method facts (labels, stage titles, which method is a baseline) from the
registry on machines without it. A method's stage work imports what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError
from morph.registry import Registry

#: What every base (seed) training depends on: whole sections and the seed.
BASE_READS = ("data", "model", "train", "measure", "seed")

StageFn = Callable[[Any, "StageSettings", Any], Any]
"""(case context, the stage's settings view, the parent's product or None) → an
:class:`~bench.methods.products.Outcome`."""


@dataclass(frozen=True)
class StageSpec:
    """One stage kind of a method.

    Attributes:
        name: the stage name in records and file names ("learn").
        title: its column name in reports ("Shrunk").
        run: the stage's work.
        reads: dotted settings the key hashes (``"morph.budget"``, or a whole section such as ``"train"``).
        inherits: ``morph`` settings it reads that an ancestor stage's key already hashes.
        unkeyed: ``morph`` settings it reads that its key leaves out so that results made before the settings
            were declared keep their keys (each is a known gap, said where it is declared).
        repeats: runs once per ``morph.iterations`` (False: once).
        facts: the typed facts its product carries for later stages (:mod:`bench.methods.products`), or None.
    """

    name: str
    title: str
    run: StageFn
    reads: tuple[str, ...] = ()
    inherits: tuple[str, ...] = ()
    unkeyed: tuple[str, ...] = ()
    repeats: bool = True
    facts: Any = None

    def morph_reads(self) -> tuple[str, ...]:
        """The ``morph`` settings the stage may read (its view)."""
        own = tuple(r.removeprefix("morph.") for r in self.reads if r.startswith("morph."))
        return (*own, *self.inherits, *self.unkeyed)


class StageSettings:
    """The ``morph`` settings one stage may read; any other name is a :class:`BenchError` (a stage that reads an
    undeclared setting would reuse a product made under another value)."""

    def __init__(self, morph: Any, spec: StageSpec) -> None:
        self._morph, self._spec, self._allowed = morph, spec, frozenset(spec.morph_reads())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._allowed:
            raise BenchError(f"stage '{self._spec.name}' reads morph.{name}, which its StageSpec does not declare")
        return getattr(self._morph, name)


@dataclass(frozen=True)
class Method:
    """A compression method: its stages after the base training, its report label, and whether it is a
    baseline (reports fold a baseline's final stage into the groups of methods run at the same budget).

    ``meets_budget`` says in one line how the method meets a budget (for docs and ``bench`` listings).
    """

    name: str
    label: str
    stages: tuple[StageSpec, ...]
    meets_budget: str = ""
    baseline: bool = False

    @property
    def final_stage(self) -> str:
        """The stage whose model the method delivers (the last one)."""
        return self.stages[-1].name

    def spec(self, name: str) -> StageSpec:
        for s in (BASE, *self.stages):
            if s.name == name:
                return s
        raise BenchError(f"method '{self.name}' has no stage '{name}'")


def _run_base(ctx: Any, settings: StageSettings, parent: Any) -> Any:
    from bench.pipeline.stages import train_from_scratch

    return train_from_scratch(ctx, ctx.seed_widths)


#: The seed training every method starts from.
BASE = StageSpec("base", "Base", _run_base, reads=BASE_READS, repeats=False)

METHODS: Registry[Method] = Registry("method", error=BenchError)


def register_method(method: Method) -> Method:
    """Add a method (its ``name`` is what ``morph.method`` selects). Returns it."""
    METHODS.register(method.name)(method)
    return method


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise BenchError(f"morph.method: {METHODS.unknown_message(name)}")
    return METHODS.get(name)


def all_stage_specs() -> Iterable[StageSpec]:
    """Every registered stage kind (the base first), each name once."""
    seen: dict[str, StageSpec] = {"base": BASE}
    for name in METHODS:
        for s in METHODS.get(name).stages:
            seen.setdefault(s.name, s)
    return seen.values()


def stage_title(stage: str) -> str:
    """A stage's report column name ("Shrunk"), the stage name itself when no method declares it."""
    return next((s.title for s in all_stage_specs() if s.name == stage), stage)


def baseline_stages() -> set[str]:
    """Final stage names of the baseline methods (``{"uniform"}``)."""
    return {METHODS.get(n).final_stage for n in METHODS if METHODS.get(n).baseline}


def learner_final_stages() -> set[str]:
    """Final stage names of the methods that are not baselines (``{"expand"}``)."""
    return {METHODS.get(n).final_stage for n in METHODS if not METHODS.get(n).baseline}


def baseline_names() -> set[str]:
    return {n for n in METHODS if METHODS.get(n).baseline}


def baseline_matched_settings() -> set[str]:
    """``morph`` settings a baseline's stages read and key: a baseline serves a learner group that agrees on them."""
    return {r for n in baseline_names() for s in METHODS.get(n).stages for r in s.morph_reads()
            if f"morph.{r}" in s.reads}
