"""What identifies a data folder, cheaply: its resolved path and a hash of every file's name, size and mtime.

Why it is stored, not hashed: the case id and the stage keys leave the data path out on purpose (results merge
across machines whose folders differ), and the committed records under ``reports/records`` were made that way;
hashing a fingerprint into the base stage key would change those keys and orphan every committed record. So the
base stage's record (and its checkpoint's fields) carry the fingerprint, and reusing a stage whose stored
fingerprint differs from this run's data is refused (:class:`StaleDataError`); records without one (older runs)
are taken as they are.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from bench.errors import BenchError


class StaleDataError(BenchError):
    """A finished stage was computed from other data than this run's."""


def data_fingerprint(path: str | Path) -> dict[str, Any]:
    """``{"path": resolved path, "files": count, "digest": sha256 of (relative name, size, mtime_ns) per file}``."""
    root = Path(path).resolve()
    digest = hashlib.sha256()
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            file = Path(folder) / name
            try:
                stat = file.stat()
            except OSError:
                continue
            digest.update(f"{file.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            count += 1
    return {"path": str(root), "files": count, "digest": digest.hexdigest()[:16]}


def check_same_data(stored: Any, current: dict[str, Any] | None, what: str) -> None:
    """Refuse to reuse ``what`` when it records other data than ``current`` (nothing recorded: accepted)."""
    if current is None or not isinstance(stored, dict) or "digest" not in stored:
        return
    if stored.get("digest") != current["digest"] or stored.get("path") != current["path"]:
        raise StaleDataError(
            f"{what} was computed from data {stored.get('path')} ({stored.get('files')} files, {stored.get('digest')}), "
            f"this run's data is {current['path']} ({current['files']} files, {current['digest']}); use another "
            "--results folder, or --force to recompute")
