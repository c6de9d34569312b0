"""File names derived from data (a record's suite, a stage key) and the folders the user names for output.

Every name that comes from a record goes through :func:`safe_child`: one plain path component, so a copied-in
record whose ``suite`` is ``../../elsewhere/x`` or ``/etc/x`` cannot make ``bench report --out X`` write outside X.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bench.errors import BenchError

#: One path component: no separator, no leading dot (so neither ``..`` nor a hidden file), no drive letter.
_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def safe_child(root: str | Path, name: str, suffix: str = "", what: str = "name") -> Path:
    """``root / (name + suffix)``, refusing a ``name`` that is not one plain path component.

    Args:
        what: what the name is, for the message (e.g. "record suite").

    Raises:
        BenchError: naming the value and the folder it would have escaped.
    """
    text = str(name)
    if not _COMPONENT.match(text) or len(text) > 200:
        raise BenchError(f"{what} '{text[:80]}': expected letters, digits, '_', '.', '@' or '-' (one file name); "
                         f"refusing to write it under {root}")
    path = Path(root) / f"{text}{suffix}"
    if os.path.dirname(os.path.normpath(path)) != os.path.normpath(root):  # belt and braces
        raise BenchError(f"{what} '{text[:80]}': would leave {root}")
    return path


def output_folder(path: str | Path, option: str, create: bool = True) -> Path:
    """A folder the user named for output: created if missing (with its parents, as ``mkdir -p``; with
    ``create=False`` only checked that it could be), refused in one line if it or an ancestor is a file or it
    cannot be written."""
    path = Path(path)
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise BenchError(f"{option} {path}: expected a folder, but {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BenchError(f"{option} {path}: {existing} is not writable")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BenchError(f"{option} {path}: cannot create the folder ({exc.strerror})") from None
    return path


def output_file(path: str | Path, option: str) -> Path:
    """A file the user named for output: its folder is created if missing (as for folders), and it must be
    neither a folder nor read-only."""
    path = Path(path)
    if path.is_dir():
        raise BenchError(f"{option} {path}: expected a file name, got a folder")
    output_folder(path.parent, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise BenchError(f"{option} {path}: the file is not writable")
    return path
