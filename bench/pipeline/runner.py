"""Run one case's stages with resume: finished stages are read back, shared ones reused, failures recorded.

The results layout and the resume rule are :mod:`bench.store.resume`'s. A stage's product (weights + widths +
the record's fields) is written before the case record, so a killed run loses at most the stage it was in and
redoes nothing that finished.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.pipeline.context import CaseContext
from bench.pipeline.plan import Stage, plan_case
from bench.methods import StageSettings
from bench.methods.products import Outcome, Product
from bench.store import (
    StageRecord, environment, has_checkpoint, load_checkpoint, read_record, record_path, resume_action,
    save_checkpoint, stage_cache, utc_now, write_record,
)
from bench.suite import Case
from morph.errors import MorphError

_RECORD_FIELDS = ("status", "error", "widths", "params", "macs", "flops", "latency", "peak_memory_bytes",
                  "train_time_s", "throughput", "metrics", "history", "histogram", "extra", "started_at", "ended_at",
                  "env")


@dataclass
class RunOptions:
    """How a run treats existing results; ``fresh`` collects stage keys recomputed in this run so that
    ``force`` redoes a shared stage once, not once per case."""

    device: str = "cpu"
    force: bool = False
    retry_failed: bool = False
    progress: bool = True
    on_stage: Callable[[Case, Stage, str], None] | None = None
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
    root = stage_cache(results)
    if not has_checkpoint(root, stage.key):
        return None
    ckpt = load_checkpoint(root, stage.key)
    meta = ckpt.metadata
    product = Product.from_info(ckpt.widths, ckpt.state_dict, meta.get("info", {}), stage.spec.facts)
    return product, meta.get("fields", {})


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0] if text else type(exc).__name__


def run_case(case: Case, results: Path, options: RunOptions | None = None) -> str:
    """Run (or resume) every stage of ``case``; returns "ok", "failed" or "diverged". Never raises for a
    failing stage: its record says what went wrong and the caller moves on to the next case."""
    options = options or RunOptions()
    ctx = CaseContext(case, device=options.device, progress=options.progress)
    env: dict[str, Any] | None = None
    parent_products: dict[str, Product] = {}
    for stage in plan_case(case):
        path = record_path(results, case.id, stage.name, stage.iteration)
        existing = read_record(path) if path.is_file() else None
        status = None if existing is None else existing.status
        action = resume_action(status, existing is not None and has_checkpoint(stage_cache(results), stage.key),
                               force=options.force, retry_failed=options.retry_failed)
        if action == "stop":
            _notify(options, case, stage, str(status))
            return str(status)
        if action == "skip":
            _notify(options, case, stage, "done")
            continue
        redo = options.force and stage.key not in options.fresh
        cached = None if redo else _cached(results, stage)
        if cached is not None:
            product, fields = cached
            parent_products[stage.key] = product
            write_record(results, _record(case, stage, fields, reused=True))
            _notify(options, case, stage, "reused")
            continue
        parent = None
        if stage.parent is not None:
            parent = parent_products.get(stage.parent.key) or _load_product(results, stage.parent)
        env = env or environment()
        _notify(options, case, stage, "running")
        started = utc_now()
        try:
            outcome = stage.spec.run(ctx, StageSettings(case.config.morph, stage.spec), parent)
            if outcome.product is not None:
                measured = ctx.measure(ctx.model_at(outcome.product.widths))
                measured["extra"] = {**outcome.fields.get("extra", {}), **measured["extra"],
                                     "layer_order": ctx.layer_order}  # widths are kept with sorted keys
                outcome.fields.update(measured)
                outcome.fields.setdefault("widths", outcome.product.widths)  # learn keeps its alive widths
        except (BenchError, MorphError, RuntimeError, ValueError, KeyError, OSError, MemoryError) as exc:
            outcome = Outcome(None, {"status": "failed", "error": _one_line(exc),
                                     "extra": {"traceback": traceback.format_exc(limit=8)}})
        outcome.fields.update(started_at=started, ended_at=utc_now(), env=env)
        record = _record(case, stage, outcome.fields, reused=False)
        if record.status == "ok" and outcome.product is not None:
            save_checkpoint(stage_cache(results), stage.key, outcome.product.state or {}, outcome.product.widths,
                            {"info": _finite(outcome.product.info), "fields": _finite(outcome.fields)})
            parent_products[stage.key] = outcome.product
            options.fresh.add(stage.key)
        write_record(results, record)
        _notify(options, case, stage, record.status)
        if record.status != "ok":
            return record.status
    return "ok"


def _load_product(results: Path, stage: Stage) -> Product:
    cached = _cached(results, stage)
    if cached is None:
        raise BenchError(f"stage {stage.label} ({stage.key}): its product is missing from {stage_cache(results)}")
    return cached[0]


def _notify(options: RunOptions, case: Case, stage: Stage, status: str) -> None:
    if options.on_stage is not None:
        options.on_stage(case, stage, status)


def stage_records(results: Path, case: Case) -> list[tuple[Stage, StageRecord | None]]:
    """Each planned stage of ``case`` with its record, if any (for ``bench list`` / ``bench show``)."""
    out = []
    for stage in plan_case(case):
        path = record_path(results, case.id, stage.name, stage.iteration)
        out.append((stage, read_record(path) if path.is_file() else None))
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


