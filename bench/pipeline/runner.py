"""Run one case's stages with resume: finished stages are read back, shared ones reused, failures recorded.

The results layout and the resume rule are :mod:`bench.store.resume`'s. A stage's product (weights + widths +
the record's fields) is written before the case record, so a killed run loses at most the stage it was in and
redoes nothing that finished.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from bench.console import warn_once
from bench.errors import BenchError, CorruptFileError, one_line
from bench.methods import StageSettings
from bench.methods.products import Outcome, Product
from bench.pipeline.context import CaseContext
from bench.pipeline.plan import Stage, plan_case
from bench.store import (
    StageRecord, environment, has_checkpoint, load_checkpoint, record_path, resume_action, save_checkpoint,
    stage_cache, try_read_record, utc_now, write_record,
)
from bench.store.fingerprint import check_same_data, data_fingerprint
from bench.suite import Case

_RECORD_FIELDS = ("status", "error", "widths", "params", "macs", "flops", "latency", "peak_memory_bytes",
                  "train_time_s", "throughput", "metrics", "history", "histogram", "extra", "started_at", "ended_at",
                  "env", "per_image")


@dataclass(frozen=True)
class StageEvent:
    """What :func:`run_case` tells ``RunOptions.on_stage`` about one stage.

    Attributes:
        status: "running", "done" (finished earlier), "reused" (another case's product), "ok", "failed" or
            "diverged".
        record: the stage's record once there is one (its ``error`` is the one-line reason of a failure).
        replayed: the failure was recorded by an earlier run and not retried (``--retry-failed`` retries it).
        seconds: wall-clock time of the stage in this run (training and measuring), None if it did not run.
    """

    case: Case
    stage: Stage
    status: str
    record: StageRecord | None = None
    replayed: bool = False
    seconds: float | None = None


@dataclass
class RunOptions:
    """How a run treats existing results; ``fresh`` collects stage keys recomputed in this run so that
    ``force`` redoes a shared stage once, not once per case."""

    device: str = "cpu"
    force: bool = False
    retry_failed: bool = False
    progress: bool = True
    on_stage: Callable[[StageEvent], None] | None = None
    fresh: set[str] = field(default_factory=set)


def _finite(value: Any) -> Any:
    """JSON has no NaN: keep records strict so every reader can parse them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _record(case: Case, stage: Stage, fields: dict[str, Any], *, reused: bool) -> StageRecord:
    body = {k: _finite(v) for k, v in fields.items() if k in _RECORD_FIELDS}
    extra = dict(body.pop("extra", {}) or {})
    extra.update({"stage_key": stage.key, "reused": reused, "profile": case.profile})
    return StageRecord(case_id=case.id, stage=stage.name, iteration=stage.iteration, suite=case.suite,
                       label=case.label, seed=case.seed, config=case.settings(), extra=extra, **body)


def _cached(results: Path, stage: Stage) -> tuple[Product, dict[str, Any]] | None:
    """The stage's stored product, or None; a corrupt one is skipped with a warning (the stage is redone and
    overwrites it)."""
    root = stage_cache(results)
    if not has_checkpoint(root, stage.key):
        return None
    try:
        ckpt = load_checkpoint(root, stage.key)
    except CorruptFileError as exc:
        warn_once(f"skipped a corrupt checkpoint: {exc}")
        return None
    info, fields = ckpt.metadata.get("info"), ckpt.metadata.get("fields")
    product = Product.from_info(ckpt.widths, ckpt.state_dict, info if isinstance(info, dict) else {}, stage.spec.facts)
    return product, fields if isinstance(fields, dict) else {}


def _execute(ctx: CaseContext, stage: Stage, parent: Product | None) -> Outcome:
    """Run one stage and measure its product. The one place where any exception of a case becomes a failure
    record with a one-line reason (the traceback is kept in ``extra``), so a bad setting in one case, whatever
    it raises (TypeError, re.error, OverflowError, ...), never stops the cases after it."""
    try:
        outcome = stage.spec.run(ctx, StageSettings(ctx.case.config.morph, stage.spec), parent)
        if outcome.product is not None:
            measured = ctx.measure(ctx.model_at(outcome.product.widths, remove=outcome.product.removed))
            measured["extra"] = {**outcome.fields.get("extra", {}), **measured["extra"],
                                 "layer_order": ctx.layer_order}  # widths are kept with sorted keys
            outcome.fields.update(measured)
            outcome.fields.setdefault("widths", outcome.product.widths)  # learn keeps its alive widths
        return outcome
    except Exception as exc:  # noqa: BLE001 - see the docstring; KeyboardInterrupt still stops the run
        return Outcome(None, {"status": "failed", "error": one_line(exc),
                              "extra": {"traceback": traceback.format_exc(limit=8)}})


def run_case(case: Case, results: Path, options: RunOptions | None = None) -> str:
    """Run (or resume) every stage of ``case``; returns "ok", "failed" or "diverged". Never raises for a
    failing stage: its record says what went wrong and the caller moves on to the next case. A stage is
    computed under a lock on its key, so a second run on the same results folder waits and then reuses it."""
    options = options or RunOptions()
    ctx = CaseContext(case, device=options.device, progress=options.progress)
    env: dict[str, Any] | None = None
    parent_products: dict[str, Product] = {}
    data = case.config.data.path
    fingerprint = data_fingerprint(data) if data is not None else None  # folder/inria/cifar10: the path is the data
    planned = stage_records(results, case)
    # a finished stage's product matters only to a later stage that still has to run: records copied without their
    # products (reports/records written into a results folder) must not retrain a finished case from its base
    last_to_run = max((i for i, (_, r) in enumerate(planned)
                       if resume_action(None if r is None else r.status, True, force=options.force,
                                        retry_failed=options.retry_failed) == "run"), default=-1)
    for i, (stage, existing) in enumerate(planned):
        if existing is not None and stage.parent is None and not options.force:
            path = record_path(results, case.id, stage.name, stage.iteration)
            check_same_data(existing.extra.get("data"), fingerprint, f"{path} (stage {stage.label})")
        status = None if existing is None else existing.status
        kept = existing is not None and (i >= last_to_run or has_checkpoint(stage_cache(results), stage.key))
        action = resume_action(status, kept, force=options.force, retry_failed=options.retry_failed)
        if action == "stop":
            _notify(options, StageEvent(case, stage, str(status), existing, replayed=True))
            return str(status)
        if action == "skip":
            _notify(options, StageEvent(case, stage, "done", existing))
            continue
        with stage_lock(stage_cache(results), stage.key, f"{case.id} {stage.label}"):
            redo = options.force and stage.key not in options.fresh
            cached = None if redo else _cached(results, stage)  # a run that held the lock may have made it
            if cached is not None and stage.parent is None:
                check_same_data(fields_extra(cached[1]).get("data"), fingerprint,
                                f"{stage_cache(results) / stage.key} (stage {stage.label})")
            if cached is not None:
                product, fields = cached
                parent_products[stage.key] = product
                record = _record(case, stage, fields, reused=True)
                write_record(results, record)
                _notify(options, StageEvent(case, stage, "reused", record))
                continue
            env = env or environment()
            _notify(options, StageEvent(case, stage, "running"))
            started, clock = utc_now(), time.monotonic()
            try:
                parent = None if stage.parent is None else \
                    parent_products.get(stage.parent.key) or _load_product(results, stage.parent)
            except BenchError as exc:
                outcome = Outcome(None, {"status": "failed", "error": one_line(exc)})
            else:
                outcome = _execute(ctx, stage, parent)
            outcome.fields.update(started_at=started, ended_at=utc_now(), env=env)
            if stage.parent is None and fingerprint is not None:
                outcome.fields["extra"] = {**fields_extra(outcome.fields), "data": fingerprint}
            record = _record(case, stage, outcome.fields, reused=False)
            if record.status == "ok" and outcome.product is not None:
                save_checkpoint(stage_cache(results), stage.key, outcome.product.state or {},
                                outcome.product.widths,
                                {"info": _finite(outcome.product.info), "fields": _finite(outcome.fields)})
                parent_products[stage.key] = outcome.product
                options.fresh.add(stage.key)
            write_record(results, record)
        _notify(options, StageEvent(case, stage, record.status, record,
                                    seconds=time.monotonic() - clock))
        if record.status != "ok":
            return record.status
    return "ok"


def fields_extra(fields: dict[str, Any]) -> dict[str, Any]:
    extra = fields.get("extra")
    return extra if isinstance(extra, dict) else {}


@contextmanager
def stage_lock(root: Path, key: str, what: str = "") -> Iterator[None]:
    """An inter-process lock on one stage key (``<root>/<key>.lock``): two runs on one results folder compute
    each stage once; the second says that it waits, then finds the product and reuses it."""
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / f"{key}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        warn_once(f"another run is computing {what or 'stage'} {key} in {root.parent}; waiting for it")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _load_product(results: Path, stage: Stage) -> Product:
    cached = _cached(results, stage)
    if cached is None:
        raise BenchError(f"stage {stage.label} ({stage.key}): its product is missing from {stage_cache(results)}; "
                         "rerun with --force")
    return cached[0]


def _notify(options: RunOptions, event: StageEvent) -> None:
    if options.on_stage is not None:
        options.on_stage(event)


def stage_records(results: Path, case: Case) -> list[tuple[Stage, StageRecord | None]]:
    """Each planned stage of ``case`` with its record, if any (for ``bench list`` / ``bench show`` and resume)."""
    out = []
    for stage in plan_case(case):
        path = record_path(results, case.id, stage.name, stage.iteration)
        out.append((stage, try_read_record(path)))
    return out


def case_status(results: Path, case: Case) -> str:
    """"done", "failed", "diverged", "partial" (some stages finished) or "todo"."""
    records = [r for _, r in stage_records(results, case)]
    statuses = [r.status for r in records if r is not None]
    if "failed" in statuses:
        return "failed"
    if "diverged" in statuses:
        return "diverged"
    if statuses and len(statuses) == len(records):
        return "done"
    return "partial" if statuses else "todo"


