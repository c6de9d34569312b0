"""Calibrating a device and its profile file (``reports/devices/NAME.json``).

``calibrate`` times every probe of a :class:`~bench.calibrate.grid.Grid` with the harness's own timer, fits each
layer kind and op (:mod:`bench.calibrate.fit`) and returns a :class:`Calibration`: the
:class:`morph.resources.CalibratedDevice` the latency resource uses, the op fits, every sample (so a profile can
be refitted without re-timing) and the environment it was measured in. The file is validated with pydantic
on load, so a bad profile is one line naming the file and key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.calibrate.fit import KindFit, fit_kind
from bench.calibrate.grid import FALLBACK, LAYER_KINDS, Grid, Probe, probes
from bench.errors import BenchError
from bench.store._atomic import atomic_write
from morph.resources import CalibratedDevice, KindCoefficients
from morph.resources.calibrated import FEATURES

FORMAT = "morph-bench calibrated latency profile, version 1"
Timer = Callable[[Probe], float]


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
            "model": "seconds = const + flop·FLOPs + in_elem·input elements + out_elem·output elements + "
                     "weight·weights (per layer kind; ops: const + in_elem·input elements)",
            "measured_on": self.measured_on,
            "kinds": {k: coeffs(c) for k, c in sorted(self.device.kinds.items())},
            "ops": {k: coeffs(c) for k, c in sorted(self.ops.items())},
            "fallback": dict(self.device.fallback),
            "fit": {k: {"n": f.n, "mape": f.mape, "within_10": f.within_10} for k, f in sorted(self.fits.items())},
            "environment": self.environment, "samples": self.samples,
        }


def measuring_timer(device: str, threads: int | None, dtype: str, grid: Grid) -> Timer:
    """The harness's latency protocol (:func:`bench.measure.measure_latency`), median seconds per call."""
    from bench.measure import measure_latency

    def timer(probe: Probe) -> float:
        return measure_latency(probe.build(), probe.input_shape, device=device, batch=probe.batch, threads=threads,
                               warmup=grid.warmup, min_runs=grid.min_runs, min_time_s=grid.min_time_s,
                               dtype=dtype).median  # type: ignore[arg-type]

    return timer


def calibrate(grid: Grid, name: str, *, device: str = "cpu", threads: int | None = None, dtype: str = "float32",
              timer: Timer | None = None, on_probe: Callable[[int, int], None] | None = None) -> Calibration:
    """Time every probe of ``grid`` (``timer``: default the harness's, injectable for tests) and fit."""
    from bench.store.environment import environment

    clock = timer or measuring_timer(device, threads, dtype, grid)
    todo = probes(grid)
    samples = []
    for i, probe in enumerate(todo):
        samples.append({**probe.key(), "features": probe.features, "time_s": float(clock(probe))})
        if on_probe is not None:
            on_probe(i + 1, len(todo))
    env = environment()
    measured_on = {"device": device, "threads": threads if threads is not None else env["torch_threads"],
                   "dtype": dtype, "grid": {k: v for k, v in vars(grid).items()}}
    return fit_samples(name, samples, measured_on, env)


def fit_samples(name: str, samples: Sequence[dict[str, Any]], measured_on: dict[str, Any],
                environment: dict[str, Any]) -> Calibration:
    """Fit every layer kind on the five-term model and every op on a per-call plus per-element cost."""
    layer_kinds = {k.name for k in LAYER_KINDS}
    fits: dict[str, KindFit] = {}
    for kind in sorted({s["kind"] for s in samples}):
        rows = [s for s in samples if s["kind"] == kind]
        names = FEATURES if kind in layer_kinds else ("in_elem",)
        fits[kind] = fit_kind([r["features"] for r in rows], [r["time_s"] for r in rows], names)
    coeffs = {k: KindCoefficients(**f.coefficients) for k, f in fits.items()}
    ops = {k: c for k, c in coeffs.items() if k not in layer_kinds}
    device = CalibratedDevice(name, {k: c for k, c in coeffs.items() if k in layer_kinds},
                              concat=ops.get("concat"), fallback=dict(FALLBACK))
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
    device = CalibratedDevice(data.name, {k: make(c) for k, c in data.kinds.items()}, concat=ops.get("concat"),
                              fallback=data.fallback)
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
