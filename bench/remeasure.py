"""``bench remeasure``: time every finished model of a suite again, on a quiet machine, and replace the latency in
its records.

Why: latency is a fact of the machine at the moment it was timed, not of the training. A case timed while other
processes competed for the cores (``--jobs`` workers training beside it, another user's job) reads up to 2×
slow, and one slow seed flips a "costs more latency" flag. Training is expensive and its results are not
touched; the models are rebuilt from the widths in the records (latency depends on the architecture only) and
timed one after another with each case's own ``[measure]`` protocol, at the thread count the record was timed
with (so the new number is comparable with the record's environment and with a ``bench verify`` rerun).

A record is re-timed only when the model rebuilt at its widths has the record's parameter count (a structure-
learning record lists its alive widths, not the model it timed, and may list an emptied layer as 0; it is left as
it was). Each re-timed record notes when, with how many threads and in how many rounds in
``extra.latency_remeasured``.

``rounds``: every model is timed once per pass over all of them (:func:`bench.measure.in_passes`: a shared VM's
speed drifts), and its latency pools the samples of its passes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def remeasure(suite_file: Path, results: Path, *, profile: str = "quick", device: str = "cpu", rounds: int = 1,
              on_record: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Re-time the ok records of ``suite_file``'s cases in ``results`` in ``rounds`` passes; returns (re-timed,
    left as they were)."""
    from bench.measure import count_params, in_passes, torch_threads
    from bench.methods.products import REMOVED
    from bench.pipeline import stage_records
    from bench.pipeline.context import CaseContext
    from bench.store import utc_now, write_record
    from bench.suite import load_suite

    if not results.is_dir():
        raise BenchError(f"{results}: expected an existing results folder")
    todo: list[tuple[Any, CaseContext, Any, Any]] = []
    skipped = 0
    for case in load_suite(suite_file, profile=profile).cases():
        ctx: CaseContext | None = None
        for _, record in stage_records(results, case):
            if record is None or record.status != "ok" or not record.widths or not record.latency:
                continue
            if min(record.widths.values()) < 1:  # alive widths of a learn stage that emptied a layer: no model
                skipped += 1
                continue
            ctx = ctx or CaseContext(case, device=device, progress=False)
            model = ctx.model_at(record.widths, remove=record.extra.get(REMOVED, ()))
            if count_params(model) != record.params:
                skipped += 1
                continue
            todo.append((case, ctx, record, model))

    def time(item: tuple[Any, CaseContext, Any, Any]) -> dict[str, Any]:
        _, ctx, record, model = item
        with torch_threads(_threads_of(record)):
            return ctx.measure_latency(model)

    for runs, (case, _, record, _) in zip(in_passes(todo, time, rounds), todo):
        measured = {key: _pooled([run[key] for run in runs]) for key in runs[0]}
        threads = {lat.get("threads") for lat in measured.values()}
        write_record(results, dataclasses.replace(record, latency=measured, extra={
            **record.extra, "latency_remeasured": {"at": utc_now(), "threads": sorted(threads), "rounds": rounds}}))
        if on_record is not None:
            on_record(f"{case.id} {case.label} {record.stage}: "
                      + ", ".join(f"{k} {1e3 * v['median_s']:.3g} ms" for k, v in measured.items()))
    return len(todo), skipped


def _pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One latency from the rounds of one model: their samples pooled (median, IQR, … over all of them)."""
    from bench.measure import LatencyMeasurement

    if len(runs) == 1:
        return runs[0]
    first = LatencyMeasurement.from_dict(runs[0])
    gpu = None if first.gpu_samples_s is None else tuple(s for run in runs for s in run["gpu_samples_s"])
    return dataclasses.replace(first, samples_s=tuple(s for run in runs for s in run["samples_s"]),
                               gpu_samples_s=gpu).to_dict()


def _threads_of(record) -> int | None:
    """The CPU threads the record's latency was timed with (None: not recorded, leave torch's count as is)."""
    counts = {lat.get("threads") for lat in record.latency.values()} - {None}
    return counts.pop() if len(counts) == 1 else record.env.get("torch_threads")
