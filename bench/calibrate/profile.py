"""Calibrating a device and its profile file (``reports/devices/NAME.json``).

``calibrate`` times every probe of a :class:`~bench.calibrate.grid.Grid` (and optionally whole-model variants)
with the harness's own timer, fits all kinds in one system (:mod:`bench.calibrate.fit`) and returns a
:class:`Calibration`: the :class:`morph.resources.CalibratedDevice` the latency resource uses, the fits of ops
outside the channel graph (BN, ReLU, upsample, max-pool: for information), every sample (so a profile can be
refitted without re-timing) and the environment it was measured in. The file is validated with pydantic
on load, so a bad profile is one line naming the file and key.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError
from torch import nn

from bench.calibrate.accuracy import CheckSettings
from bench.calibrate.fit import KindFit, error_stats, fit_joint
from bench.calibrate.grid import FALLBACK, OPS_ONLY, Grid, probes
from bench.errors import BenchError
from bench.store._atomic import atomic_write
from morph.resources import CalibratedDevice, KindCoefficients

FORMAT = "morph-bench calibrated latency profile, version 1"


@dataclass(frozen=True)
class Task:
    """One thing to time: a probe (``source="probe"``, ``name`` its kind) or a whole-model variant
    (``source="model"``, ``name`` its spec); ``terms`` are its multipliers per kind (:mod:`bench.calibrate.fit`)."""

    source: str
    name: str
    build: Callable[[], nn.Module] = field(repr=False)
    input_shape: tuple[int, ...]
    batch: int
    terms: dict[str, dict[str, float]]


Timer = Callable[[Task], float]


@dataclass(frozen=True)
class Calibration:
    """A fitted device plus what it was fitted on."""

    device: CalibratedDevice
    ops: dict[str, KindCoefficients]
    fits: dict[str, KindFit]
    measured_on: dict[str, Any]
    samples: list[dict[str, Any]]
    environment: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        coeffs = lambda c: c.as_dict()  # noqa: E731
        return {
            "format": FORMAT, "name": self.device.name,
            "model": "seconds = Σ over a layer's parts (its kind; concat when it reads several groups) of const + "
                     "flop·FLOPs + in_elem·input elements + out_elem·output elements + weight·weights; at batch b "
                     "the set of the nearest calibrated batch in 'batches', else 'kinds'",
            "measured_on": self.measured_on,
            "kinds": {k: coeffs(c) for k, c in sorted(self.device.kinds.items())},
            "batches": {str(b): {k: coeffs(c) for k, c in sorted(kinds.items())}
                        for b, kinds in sorted(self.device.batches.items())},
            "ops": {k: coeffs(c) for k, c in sorted(self.ops.items())},
            "fallback": dict(self.device.fallback),
            "fit": {k: {"n": f.n, "mape": f.mape, "within_10": f.within_10} for k, f in sorted(self.fits.items())},
            "environment": self.environment, "samples": self.samples,
        }


def probe_tasks(grid: Grid) -> list[Task]:
    return [Task("probe", p.kind, p.build, p.input_shape, p.batch, {p.kind: {"const": 1.0, **p.features}})
            for p in probes(grid)]


def model_tasks(settings: CheckSettings) -> list[Task]:
    """Whole-model variants, priced by their graph features (fitted jointly with the probes)."""
    from bench.calibrate.accuracy import variant_jobs
    from morph.resources.calibrated import graph_features

    return [Task("model", j.model, j.build, (3, j.size, j.size), j.batch, graph_features(j.graph, j.alive, j.batch))
            for j in variant_jobs(settings)]


def measuring_timer(device: str, threads: int | None, dtype: str, grid: Grid) -> Timer:
    """The harness's latency protocol (:func:`bench.measure.measure_latency`), median seconds per call."""
    from bench.measure import measure_latency

    def timer(task: Task) -> float:
        return measure_latency(task.build(), task.input_shape, device=device, batch=task.batch, threads=threads,
                               warmup=grid.warmup, min_runs=grid.min_runs, min_time_s=grid.min_time_s,
                               dtype=dtype).median  # type: ignore[arg-type]

    return timer


def calibrate(grid: Grid, name: str, *, device: str = "cpu", threads: int | None = None, dtype: str = "float32",
              models: CheckSettings | None = None, timer: Timer | None = None,
              on_task: Callable[[int, int], None] | None = None) -> Calibration:
    """Time every probe of ``grid`` and, with ``models``, whole-model variants too, then fit.

    Every timing is made in one shuffled order (fixed seed), probes and model rows mixed, and each model row is
    timed ``models.rounds`` times (its sample: the median). Why: this VM's speed drifts by a third within minutes;
    in task order, the probes and the model rows (which weigh 100 probes each in the fit) were timed in different
    minutes, and one slow minute moved a whole family.

    Args:
        models: random-width variants to add as end-to-end rows (they catch what probes miss: ops outside the
            channel graph, framework overhead per module); use a different ``seed`` from the accuracy check.
        timer: seconds per task (default: the harness's protocol; injectable for tests).
    """
    from bench.store.environment import environment

    clock = timer or measuring_timer(device, threads, dtype, grid)
    tasks = [*probe_tasks(grid), *(model_tasks(models) if models is not None else [])]
    rounds = models.rounds if models is not None else 1
    order = [i for i, task in enumerate(tasks) for _ in range(rounds if task.source == "model" else 1)]
    random.Random(grid.seed).shuffle(order)
    times: list[list[float]] = [[] for _ in tasks]
    for n, i in enumerate(order):
        times[i].append(float(clock(tasks[i])))
        if on_task is not None:
            on_task(n + 1, len(order))
    samples = [{"source": task.source, "name": task.name, "input_shape": list(task.input_shape),
                "batch": task.batch, "terms": task.terms, "time_s": float(np.median(t))}
               for task, t in zip(tasks, times)]
    env = environment()
    measured_on = {"device": device, "threads": threads if threads is not None else env["torch_threads"],
                   "dtype": dtype, "grid": dict(vars(grid)), "models": dict(vars(models)) if models else None}
    return fit_samples(name, samples, measured_on, env)


#: How much one whole-model row weighs against one probe row in the fit. Probes time a layer kind alone and miss
#: what a model adds around it (ops outside the channel graph, caches, dispatch), so they are a prior for kinds
#: the model rows do not separate; the model rows decide. Chosen by 6-fold cross-validation over the model rows
#: of this VM's profile (2 CPU cores, 528 probes, 144 model rows, reports/devices/): within ±10 % 77 % at weight
#: 10, 92 % at 30, 94 % at 100, 93 % at 300. On an earlier Intel Xeon profile one all-batch set instead of one
#: per batch put 2 to 7 points fewer held-out variants within ±10 %.
MODEL_ROW_WEIGHT = 100.0


def _fit(samples: Sequence[dict[str, Any]]) -> tuple[dict[str, dict[str, float]], Any]:
    weights = [MODEL_ROW_WEIGHT if s["source"] == "model" else 1.0 for s in samples]
    return fit_joint([s["terms"] for s in samples], [s["time_s"] for s in samples], weights)


def fit_samples(name: str, samples: Sequence[dict[str, Any]], measured_on: dict[str, Any],
                environment: dict[str, Any]) -> Calibration:
    """One joint NNLS over probe and model rows (model rows weigh :data:`MODEL_ROW_WEIGHT` each) for the
    all-batch coefficients, and one more per batch size that has model rows, over that batch's rows only: the
    device prices each batch with its own set. The fit summary is of the predictions the device makes."""
    coefs, pred = _fit(samples)
    per_batch: dict[int, dict[str, dict[str, float]]] = {}
    for batch in sorted({int(s["batch"]) for s in samples if s["source"] == "model"}):
        idx = [i for i, s in enumerate(samples) if int(s["batch"]) == batch]
        per_batch[batch], pred[idx] = _fit([samples[i] for i in idx])
    fits = {}
    for group in sorted({(s["source"], s["name"]) for s in samples}):
        idx = [i for i, s in enumerate(samples) if (s["source"], s["name"]) == group]
        label = group[1] if group[0] == "probe" else f"model {group[1]}"
        fits[label] = KindFit(coefs.get(group[1], {}), len(idx),
                              *error_stats(pred[idx], [samples[i]["time_s"] for i in idx]))

    def priced(c: dict[str, dict[str, float]]) -> dict[str, KindCoefficients]:
        return {k: KindCoefficients(**v) for k, v in c.items() if k not in OPS_ONLY}

    device = CalibratedDevice(name, priced(coefs), fallback=dict(FALLBACK),
                              batches={b: priced(c) for b, c in per_batch.items()})
    ops = {k: KindCoefficients(**c) for k, c in coefs.items() if k in OPS_ONLY}
    return Calibration(device, ops, fits, measured_on, list(samples), environment)


def save_profile(calibration: Calibration, path: Path) -> Path:
    """Write the profile atomically (the folder is created)."""
    text = json.dumps(calibration.to_dict(), indent=1, sort_keys=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class _Coeffs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    const: float = Field(ge=0)
    flop: float = Field(0.0, ge=0)
    in_elem: float = Field(ge=0)
    out_elem: float = Field(0.0, ge=0)
    weight: float = Field(0.0, ge=0)


class _Fit(BaseModel):
    n: int
    mape: float
    within_10: float


class _ProfileFile(BaseModel):
    format: str
    name: str = Field(min_length=1)
    measured_on: dict[str, Any]
    kinds: dict[str, _Coeffs] = Field(min_length=1)
    batches: dict[PositiveInt, dict[str, _Coeffs]] = {}
    ops: dict[str, _Coeffs] = {}
    fallback: dict[str, str] = {}
    fit: dict[str, _Fit] = {}
    environment: dict[str, Any] = {}
    samples: list[dict[str, Any]] = []


def load_profile(path: Path) -> Calibration:
    """Read a profile file; a missing, unreadable or malformed file is a one-line BenchError."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(f"{path}: cannot read the device profile ({exc})") from None
    try:
        data = _ProfileFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise BenchError(f"{path}: key '{where}': {err['msg']}") from None
    if data.format != FORMAT:
        raise BenchError(f"{path}: key 'format': expected '{FORMAT}', got '{data.format}'")
    make = lambda c: KindCoefficients(**c.model_dump())  # noqa: E731
    ops = {k: make(c) for k, c in data.ops.items()}
    device = CalibratedDevice(data.name, {k: make(c) for k, c in data.kinds.items()}, fallback=data.fallback,
                              batches={b: {k: make(c) for k, c in kinds.items()} for b, kinds in data.batches.items()})
    fits = {k: KindFit({}, f.n, f.mape, f.within_10) for k, f in data.fit.items()}
    return Calibration(device, ops, fits, data.measured_on, data.samples, data.environment)


def resolve_device(name: str | None) -> Any:
    """A suite's ``morph.device_profile``: a path ending in ``.json`` is loaded as a calibrated device (once per
    file version), anything else is a registered device name and passes through."""
    if name is None or not name.endswith(".json"):
        return name
    path = Path(name).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise BenchError(f"morph.device_profile: no profile file '{name}' (make one with `bench calibrate`)") from None
    return _load_device(path, mtime)


@functools.lru_cache(maxsize=8)
def _load_device(path: Path, mtime: int) -> CalibratedDevice:
    return load_profile(path).device
