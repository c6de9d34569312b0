"""Records as JSON Lines: one file per suite, the form committed next to rendered reports.

A results folder holds one JSON file per record plus checkpoints (hundreds of MB); an archive keeps only the
records, one compact line each in a fixed order, so it is small, diffs line by line in git, and the same records
always give the same bytes. ``bench report`` reads archives wherever it reads results folders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.errors import BenchError
from bench.store._atomic import atomic_write_text
from bench.store.paths import safe_child
from bench.store.records import STAGE_ORDER, StageRecord

SUFFIX = ".jsonl"


def archive_order(record: StageRecord) -> tuple[str, str, int, int, str]:
    """Suite, case, then the pipeline's stage order (base, learn, shrink, expand, uniform) per iteration."""
    return (record.suite, record.case_id, record.iteration or 0, STAGE_ORDER.get(record.stage, len(STAGE_ORDER)),
            record.stage)


def archive_text(records: Iterable[StageRecord]) -> str:
    lines = [json.dumps(r.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=True, default=str)
             for r in sorted(records, key=archive_order)]
    return "".join(line + "\n" for line in lines)


def _profile(record: StageRecord) -> str:
    return str(record.extra.get("profile", ""))


def write_archives(records: Iterable[StageRecord], folder: str | Path) -> list[Path]:
    """``folder/<suite>.jsonl`` per suite (atomic writes); returns the files written.

    A suite's archive is replaced profile by profile: records of a profile that ``records`` has for that suite
    replace the archive's records of that profile, and the archive's records of other profiles stay. So
    rerunning the quick profile keeps the committed real-data profiles beside it, and a case dropped from a
    rerun profile does not linger as a stale record.
    """
    by_suite: dict[str, list[StageRecord]] = {}
    for record in records:
        by_suite.setdefault(record.suite or "unnamed", []).append(record)
    targets = {suite: safe_child(folder, suite, SUFFIX, "record suite") for suite in by_suite}  # all checked first
    for suite, recs in by_suite.items():
        if targets[suite].is_file():
            rerun = {_profile(r) for r in recs}
            recs += [old for old, _ in read_archive(targets[suite]) if _profile(old) not in rerun]
    return [atomic_write_text(targets[suite], archive_text(recs)) for suite, recs in sorted(by_suite.items())]


def read_archive(path: str | Path) -> Iterator[tuple[StageRecord, str]]:
    """Each line's record with its origin ``<file>:<line>``; a bad line is a one-line BenchError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path}: byte {exc.start}: expected UTF-8 JSON lines") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchError(f"{origin}: column {exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise BenchError(f"{origin}: JSON nested too deeply") from None
        if not isinstance(data, dict):
            raise BenchError(f"{origin}: expected a JSON object per line")
        yield StageRecord.from_dict(data, origin), origin
