"""The result record: one JSON file per (case, stage[, iteration]) at ``<results>/<case_id>/<stage>.json``.

Iterations of a repeated stage get their own file (``learn-it2.json``). Machine-dependent stages (latency)
should carry the machine in the stage name (``latency.<machine_id>``, see
:func:`bench.store.environment.machine_id`) so that folders from several machines merge by copying.
Each file has a ``schema_version``: older records are migrated on read, newer ones are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

from bench.errors import BenchError, CorruptFileError
from bench.console import warn_once
from bench.store._atomic import atomic_write_text

SCHEMA_VERSION = 1
#: Pipeline order of the stage names within one iteration (tables and "the last stage" sort by it).
STAGE_ORDER = {"base": 0, "learn": 1, "shrink": 2, "expand": 3, "sparse": 4, "prune": 5, "uniform": 6}
Status = Literal["ok", "failed", "diverged"]
STATUSES: tuple[str, ...] = get_args(Status)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
#: ``_MIGRATIONS[v]`` turns a version-``v`` dict into version ``v + 1``.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass(frozen=True)
class StageRecord:
    """What one stage of one case produced. Units live in the names; ``flops`` is 2 × ``macs``.

    Attributes:
        iteration: MorphNet iteration for repeated stages, else None.
        status: "ok", "failed" (an exception; ``error`` says which) or "diverged" (NaN loss: a result, not a bug).
        widths: alive width per layer name.
        macs: multiply-adds (fvcore's count); ``flops`` defaults to 2 × macs.
        latency: ``"<device>_b<batch>"`` → :meth:`bench.measure.LatencyMeasurement.to_dict`.
        metrics: split → metric → value, e.g. ``{"val": {"dice": 0.81}}``.
        history: per-epoch series, e.g. ``{"loss": [...], "reg_cost": [...], "reg_penalty": [...]}``.
        histogram: ``{"of": "gamma", "edges": [...], "counts": [...]}``.
        per_image: split → integer counts per evaluation image of the reported checkpoint (val, test):
            ``tp``/``fp``/``fn`` per foreground class and image, ``correct``/``total`` per image
            (:meth:`bench.train.metrics.SegmentationMetrics.per_image`; a classifier has ``correct`` only).
            Left out of the stored form when empty, so records from before it existed keep their bytes.
        started_at / ended_at: ISO 8601 in UTC (:func:`utc_now`).
        env: :func:`bench.store.environment.environment`.
    """

    case_id: str
    stage: str
    status: Status = "ok"
    suite: str = ""
    label: str = ""
    iteration: int | None = None
    seed: int | None = None
    error: str | None = None
    widths: dict[str, int] | None = None
    params: int | None = None
    macs: int | None = None
    flops: int | None = None
    latency: dict[str, dict[str, Any]] = field(default_factory=dict)
    peak_memory_bytes: int | None = None
    train_time_s: float | None = None
    throughput: float | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    histogram: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    ended_at: str | None = None
    env: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    per_image: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        for name in ("case_id", "stage"):
            if not _NAME.match(getattr(self, name)):
                raise ValueError(f"{name} must be letters, digits, '_', '.', '@' or '-', got {getattr(self, name)!r}")
        if self.flops is None and self.macs is not None:
            object.__setattr__(self, "flops", 2 * self.macs)

    @property
    def filename(self) -> str:
        return f"{stage_label(self.stage, self.iteration)}.json"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["per_image"]:
            del data["per_image"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "record") -> StageRecord:
        """Build from a stored dict, migrating older versions; a newer version is a one-line BenchError."""
        data = migrate(dict(data), source)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CorruptFileError(f"{source}: {unknown[0]}: unknown field for schema_version {SCHEMA_VERSION}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise CorruptFileError(f"{source}: {exc}") from None


def migrate(data: dict[str, Any], source: str = "record") -> dict[str, Any]:
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CorruptFileError(f"{source}: schema_version: expected an integer (got {version!r})")
    if version > SCHEMA_VERSION:
        raise BenchError(
            f"{source}: schema_version: expected ≤ {SCHEMA_VERSION} (got {version}); written by a newer morph-bench"
        )
    while version < SCHEMA_VERSION:
        if version not in _MIGRATIONS:
            raise BenchError(f"{source}: schema_version: no migration from {version} to {SCHEMA_VERSION}")
        data = _MIGRATIONS[version](data)
        version = data["schema_version"] = version + 1
    return data


def stage_label(stage: str, iteration: Any = None) -> str:
    """``learn-it2`` for an iteration of a repeated stage, the stage name otherwise (file names, CLI, tables)."""
    return stage if is_missing(iteration) else f"{stage}-it{int(iteration)}"


def is_missing(value: Any) -> bool:
    """None or NaN (a missing iteration in a DataFrame column)."""
    return value is None or (isinstance(value, float) and value != value)


def record_path(results_dir: str | Path, case_id: str, stage: str, iteration: int | None = None) -> Path:
    return Path(results_dir) / case_id / f"{stage_label(stage, iteration)}.json"


def write_record(results_dir: str | Path, record: StageRecord) -> Path:
    """Write atomically; returns the file. Overwrites an older record of the same (case, stage, iteration)."""
    target = record_path(results_dir, record.case_id, record.stage, record.iteration)
    text = json.dumps(record.to_dict(), indent=1, sort_keys=True, allow_nan=True, default=str)
    return atomic_write_text(target, text + "\n")


def read_record(path: str | Path) -> StageRecord:
    """Read one record file. Raises a one-line CorruptFileError for unreadable or corrupt files, a BenchError for
    too-new ones."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorruptFileError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path}: byte {exc.start}: expected UTF-8 JSON") from None
    except RecursionError:
        raise CorruptFileError(f"{path}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path}: expected a JSON object")
    return StageRecord.from_dict(data, str(path))


def try_read_record(path: str | Path) -> StageRecord | None:
    """The record at ``path``; None when there is none or it is corrupt. A corrupt record is skipped with one
    warning line naming the file (deleting it redoes that stage), so one bad file stops nothing else."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return read_record(path)
    except CorruptFileError as exc:
        warn_once(f"skipped a corrupt record: {exc} (delete {path} to redo its stage)")
        return None


def utc_now() -> str:
    """The current time for ``started_at``/``ended_at``: ISO 8601, UTC, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
