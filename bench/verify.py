"""``bench verify``: rerun committed cases in a scratch folder and judge each metric against what was committed.

What is expected of a rerun, and so how each metric is judged:

- **exact** (parameters, MACs, FLOPs, alive widths): they follow from the settings and the learned structure, so they
  must be bit-identical where the structure is fixed by the settings (the base and uniform stages), and, for a
  learned structure (structure learning, shrink, expand, a pruning cut), when the rerun ran where the record did:
  the same CPU model and SIMD level (``cpu_capability``), torch thread count and torch version. A
  structure-learning stage whose widths differ makes every later stage differ too; the table shows both.
- **structure** (a learned structure rerun on another CPU model, thread count or torch version): float reductions
  differ there, so a learned width may move by a channel or more (Intel → AMD moved 4 of 22 alive widths of a
  CamVid MorphNet by up to 3 channels). Parameters, MACs and FLOPs are then judged as Dice is, against the seed
  band of the committed seeds (rule 1 below; no band with one seed: bit-exact), and the widths are shown, not
  judged.
- **statistical** (val and test Dice, or accuracy for a classifier): on another CPU or math library the float
  arithmetic differs and training drifts, so a rerun is "reproduced" when it lands inside a band:

  1. the committed **seed band**, when the case group has ≥ 2 committed seeds: the 95% prediction interval of one
     more seed, mean ± t₀.₉₇₅,ₙ₋₁ · s · √(1 + 1/n) over the committed seeds;
  2. else the committed value's **per-image 95% interval** (:func:`bench.stats.interval` over its evaluation
     images, its offsets from the pooled value placed around the committed value), when the record kept
     per-image counts;
  3. else committed ± :data:`TOLERANCE` (absolute; one seed of the quick profile moved base test Dice by up to 0.05
     between machines and seeds, issue #10).

  Outside the band it is "not reproduced", shown with its distance to the band.

The rerun uses the committed records' torch thread count (``MORPH_BENCH_THREADS``, unless already set): the
count changes float reductions, so on the same machine and thread count a rerun is bit-identical, and a rerun
on another machine differs by the CPU and math library alone.

Latency and times are machine facts and are not judged. The exit code is 0 when every judged metric reproduced.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.report._groups import record_group
from bench.stats import Counts, interval, mean_ci
from bench.store import StageRecord, load_records, stage_label

#: Absolute band for a Dice/accuracy of one committed seed without per-image counts.
TOLERANCE = 0.05
EXACT = ("params", "macs", "flops", "widths")
#: Stages whose structure the settings alone fix (every other stage's widths come out of training).
FIXED_STRUCTURE = ("base", "uniform")
#: What must match for a learned structure to be bit-exact (keys of a record's ``env``, dotted into its package
#: versions): CPU model, its SIMD level, torch threads, torch version ("AMD EPYC" alone named two machines,
#: AVX-512 and AVX2, whose learned widths differed by 3 channels).
SAME_PLACE = ("cpu", "cpu_capability", "torch_threads", "packages.torch")
SPLITS = ("val", "test")
REPRODUCED, NOT_REPRODUCED = "reproduced", "NOT reproduced"


@dataclass(frozen=True)
class Check:
    """One metric of one stage: the committed value, the rerun's, the band it had to hit and the result."""

    case_id: str
    stage: str
    metric: str
    kind: str  # "exact", "structure" or "statistical"
    committed: Any
    rerun: Any
    band: str
    ok: bool
    distance: str = ""
    judged: bool = True

    @property
    def result(self) -> str:
        if not self.judged:
            return f"shown, not judged{f' ({self.distance})' if self.distance else ''}"
        return REPRODUCED if self.ok else f"{NOT_REPRODUCED}{f' ({self.distance})' if self.distance else ''}"


def _stage(r: StageRecord) -> str:
    return stage_label(r.stage, r.iteration)


def choose_cases(committed: Sequence[StageRecord], cases: Sequence[str] = (), sample: int | None = None,
                 seed: int = 0) -> list[str]:
    """The case ids to rerun: those matching the given ids/prefixes, or ``sample`` drawn with ``seed``."""
    ids = sorted({r.case_id for r in committed})
    if cases:
        chosen = []
        for want in cases:
            hits = [i for i in ids if i.startswith(want)]
            if len(hits) != 1:
                raise BenchError(f"--cases: '{want}' matches {len(hits)} committed cases (expected one)")
            chosen.append(hits[0])
        return chosen
    if sample is None:
        raise BenchError("give --cases ID,.. or --sample N")
    if not 1 <= sample <= len(ids):
        raise BenchError(f"--sample: expected 1 to {len(ids)} (the committed cases), got {sample}")
    return sorted(random.Random(seed).sample(ids, sample))


def _metric(record: StageRecord) -> str:
    return "dice" if "dice" in record.metrics.get("val", {}) else "accuracy"


def band(record: StageRecord, split: str, metric: str, siblings: Sequence[StageRecord],
         tolerance: float = TOLERANCE) -> tuple[float, float, str]:
    """(low, high, how) of the band a rerun of ``record`` must land in (the module's rules 1–3)."""
    values = [s.metrics.get(split, {}).get(metric) for s in siblings]
    values = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(values) >= 2:
        return seed_band(values)
    value = float(record.metrics[split][metric])
    counts = record.per_image.get(split)
    if counts:  # the interval's offsets from the pooled value, around the committed value
        pooled, low, high = interval({0: Counts.from_record(counts)}, metric)
        return value - (pooled - low), value + (high - pooled), "per-image 95% CI"
    return value - tolerance, value + tolerance, f"±{tolerance:g}"


def seed_band(values: Sequence[float]) -> tuple[float, float, str]:
    """Where one more seed should land: the 95% t interval of the mean widened from s/√n to s·√(1 + 1/n)."""
    mean, half, n = mean_ci(values)
    half *= math.sqrt(n + 1)
    return mean - half, mean + half, f"seed band ({n} seeds)"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return f"{len(value)} layers"
    return "–" if value is None else str(value)


def place(record: StageRecord) -> tuple[Any, ...]:
    """Where a record was computed, as far as bit-exactness goes (:data:`SAME_PLACE`)."""
    def get(key: str) -> Any:
        value: Any = record.env or {}
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return tuple(get(key) for key in SAME_PLACE)


def _exact(case_id: str, old: StageRecord, new: StageRecord, siblings: Sequence[StageRecord]) -> list[Check]:
    learned_elsewhere = old.stage not in FIXED_STRUCTURE and place(old) != place(new)
    out = []
    for name in EXACT:
        a, b = getattr(old, name), getattr(new, name)
        if a is None:
            continue
        distance = ""
        if a != b and isinstance(a, dict) and isinstance(b, dict):
            differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            distance = f"{len(differ)} layer(s) differ, e.g. {differ[0]}: {a.get(differ[0])} → {b.get(differ[0])}"
        elif a != b and isinstance(a, (int, float)) and isinstance(b, (int, float)):
            distance = f"{b - a:+,}"
        values = [float(v) for s in siblings if isinstance(v := getattr(s, name), (int, float))]
        if learned_elsewhere and isinstance(a, dict):
            out.append(Check(case_id, _stage(old), name, "structure", _fmt(a), _fmt(b), "learned elsewhere",
                             a == b, distance, judged=False))
        elif learned_elsewhere and len(values) >= 2 and isinstance(b, (int, float)):
            low, high, how = seed_band(values)
            ok = low <= b <= high
            distance = distance if ok else f"{b - (high if b > high else low):+,.0f} outside"
            out.append(Check(case_id, _stage(old), name, "structure", _fmt(a), _fmt(b),
                             f"[{low:,.0f}, {high:,.0f}] {how}", ok, distance))
        else:
            out.append(Check(case_id, _stage(old), name, "exact", _fmt(a), _fmt(b), "bit-exact", a == b, distance))
    return out


def judge(committed: Sequence[StageRecord], rerun: Sequence[StageRecord], case_id: str,
          tolerance: float = TOLERANCE) -> list[Check]:
    """Every check of one case: its committed stages against the rerun's."""
    mine = [r for r in committed if r.case_id == case_id]
    new = {(r.stage, r.iteration): r for r in rerun if r.case_id == case_id}
    checks = []
    for old in sorted(mine, key=lambda r: (r.iteration or 0, _stage(r))):
        got = new.get((old.stage, old.iteration))
        if got is None or got.status != old.status:
            checks.append(Check(case_id, _stage(old), "status", "exact", old.status,
                                got.status if got else "missing", "same", False))
            continue
        metric = _metric(old)
        group = record_group(old.label, old.extra)  # the seeds of the same case on the same profile
        siblings = [r for r in committed if r.suite == old.suite and record_group(r.label, r.extra) == group
                    and (r.stage, r.iteration) == (old.stage, old.iteration) and r.status == "ok"]
        checks += _exact(case_id, old, got, siblings)
        for split in SPLITS:
            if metric not in old.metrics.get(split, {}):
                continue
            value = got.metrics.get(split, {}).get(metric)
            low, high, how = band(old, split, metric, siblings, tolerance)
            ok = value is not None and low <= value <= high
            distance = "" if ok or value is None else f"{value - (high if value > high else low):+.4f} outside"
            checks.append(Check(case_id, _stage(old), f"{split} {metric}", "statistical",
                                _fmt(float(old.metrics[split][metric])), _fmt(value),
                                f"[{low:.4f}, {high:.4f}] {how}", ok, distance))
    return checks


def verify(records: Path, *, cases: Sequence[str] = (), sample: int | None = None, seed: int = 0,
           work: Path | None = None, suites: Path = Path("suites"), device: str = "cpu",
           tolerance: float = TOLERANCE, progress: bool = False) -> list[Check]:
    """Rerun the chosen committed cases of ``records`` (archives or a results folder) from their suite files in
    ``suites`` under ``work`` (a temporary folder when None, removed afterwards) and judge every metric."""
    from bench.api import run_suite

    committed = load_records(records)
    if not committed:
        raise BenchError(f"{records}: no records found")
    chosen = choose_cases(committed, cases, sample, seed)
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
        folder = Path(work) if work is not None else Path(scratch)
        checks: list[Check] = []
        for case_id in chosen:
            first = next(r for r in committed if r.case_id == case_id)
            path = suites / f"{first.suite}.toml"
            if not path.is_file():
                raise BenchError(f"{path}: suite file of committed case {case_id} not found (--suites)")
            profile = str(first.extra.get("profile", "quick"))
            with _threads_of(committed, case_id):
                run_suite(path, profile=profile, results=folder, device=device, only=[case_id], progress=progress)
            checks += judge(committed, load_records(folder), case_id, tolerance)
    return checks


def committed_threads(committed: Sequence[StageRecord], case_id: str) -> int | None:
    """The torch thread count the case's stages were trained with (its records that were not reused)."""
    counts = {r.env.get("torch_threads") for r in committed
              if r.case_id == case_id and not r.extra.get("reused") and r.env.get("torch_threads")}
    return int(next(iter(counts))) if len(counts) == 1 else None


@contextmanager
def _threads_of(committed: Sequence[StageRecord], case_id: str) -> Iterator[None]:
    from bench.executors.threads import THREADS_ENV

    threads = committed_threads(committed, case_id)
    if threads is None or os.environ.get(THREADS_ENV):
        yield
        return
    os.environ[THREADS_ENV] = str(threads)
    try:
        yield
    finally:
        os.environ.pop(THREADS_ENV, None)


def table(checks: Sequence[Check]) -> str:
    """The checks as a plain-text table (tabulate)."""
    from tabulate import tabulate

    rows = [[c.case_id, c.stage, c.metric, c.kind, c.committed, c.rerun, c.band, c.result] for c in checks]
    return tabulate(rows, headers=["Case", "Stage", "Metric", "Kind", "Committed", "Rerun", "Band", "Result"])
