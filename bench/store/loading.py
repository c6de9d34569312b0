"""Reading result folders back: a tidy DataFrame for reports, and per-record statuses for resume.

Nothing here imports torch, so ``bench report`` works on a copied folder anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.store.archive import SUFFIX, read_archive
from bench.store.records import StageRecord, Status, try_read_record
from bench.store.resume import resume_action

RecordKey = tuple[str, str, int | None]
#: Nested fields spread into dotted columns (``metrics.val.dice``, ``config.morph.symmetry``, ``env.torch``).
FLATTENED = ("metrics", "latency", "config", "env")


def record_files(results_dir: str | Path) -> Iterator[Path]:
    """Record files under a results folder: ``<case_id>/<stage>.json``, temp files excluded."""
    root = Path(results_dir)
    if not root.is_dir():
        raise BenchError(f"{root}: expected an existing results folder")
    for path in sorted(root.glob("*/*.json")):
        if not path.name.startswith("."):
            yield path


def iter_records(sources: str | Path | Iterable[str | Path]) -> Iterator[tuple[StageRecord, str]]:
    """Every record with its origin from results folders (``<case_id>/<stage>.json``, plus any ``*.jsonl``
    archives directly inside) and archive files (:mod:`bench.store.archive`)."""
    for source in [sources] if isinstance(sources, (str, Path)) else list(sources):
        path = Path(source)
        if path.is_file() and path.suffix == SUFFIX:
            yield from read_archive(path)
        elif path.is_dir():
            for file in record_files(path):
                record = try_read_record(file)  # a corrupt record is skipped with a warning naming it
                if record is not None:
                    yield record, str(file)
            for file in sorted(path.glob(f"*{SUFFIX}")):
                yield from read_archive(file)
        else:
            raise BenchError(f"{path}: expected an existing results folder or a {SUFFIX} records file")


def load_records(sources: str | Path | Iterable[str | Path]) -> list[StageRecord]:
    """The union of the records in ``sources``; the same record seen twice (a copied folder, an archive of the
    folder beside it) counts once, the first seen kept."""
    return [record for record, _, _ in _unique(sources)]


def load_results(sources: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """One row per record across results folders and archives (their union; the same record twice counts once).

    Scalars become columns as they are; ``metrics``, ``latency``, ``config`` and ``env`` are flattened into dotted
    columns; ``widths``, ``history``, ``histogram``, ``extra`` and latency sample lists stay as cells. Two columns
    are added: ``path`` (the file, or ``file:line`` in an archive) and ``results_dir`` (the source given).
    """
    rows = []
    for record, origin, source in _unique(sources):
        row = flatten_record(record)
        row["path"], row["results_dir"] = origin, source
        rows.append(row)
    base = ["case_id", "suite", "label", "stage", "iteration", "status", "seed"]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*base, "path", "results_dir"])
    return frame[[c for c in base if c in frame.columns] + [c for c in frame.columns if c not in base]]


def _unique(sources: str | Path | Iterable[str | Path]) -> Iterator[tuple[StageRecord, str, str]]:
    seen: set[tuple[Any, ...]] = set()
    for source in [sources] if isinstance(sources, (str, Path)) else list(sources):
        for record, origin in iter_records(source):
            identity = (record.case_id, record.stage, record.iteration, record.started_at, record.env.get("hostname"))
            if identity not in seen:
                seen.add(identity)
                yield record, origin, str(source)


def flatten_record(record: StageRecord) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in record.to_dict().items():
        if key in FLATTENED and isinstance(value, Mapping):
            row.update(_flatten(value, f"{key}."))
        else:
            row[key] = value
    return row


def _flatten(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def record_statuses(results_dir: str | Path) -> dict[RecordKey, Status]:
    """(case_id, stage, iteration) → status for every record in a folder (empty if the folder does not exist)."""
    if not Path(results_dir).is_dir():
        return {}
    out: dict[RecordKey, Status] = {}
    for path in record_files(results_dir):
        rec = try_read_record(path)
        if rec is not None:
            out[(rec.case_id, rec.stage, rec.iteration)] = rec.status
    return out


def should_run(status: Status | None, *, force: bool = False, retry_failed: bool = False) -> bool:
    """Whether a stage with this record status (and its product kept) runs again: :func:`resume_action`."""
    return resume_action(status, True, force=force, retry_failed=retry_failed) == "run"
