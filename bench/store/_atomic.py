"""Atomic file writes: a temp file in the target folder, flushed and fsynced, then ``os.replace``.

A reader sees either the old file or the whole new one; an interrupted write leaves only a hidden
``.<name>.<random>.tmp`` file, which no loader picks up (they look for ``*.json`` / ``*.safetensors``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def temp_path(target: Path) -> Path:
    """A fresh temp file next to ``target`` (same folder, so ``os.replace`` is a rename on one file system)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; results are shared, so follow the umask like open()
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(target: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to fill a temp file, fsync it and move it over ``target``."""
    tmp = temp_path(target)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # again: a writer that replaces the file (safetensors) brings back 0600
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(target: Path, text: str) -> Path:
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
