"""The harness's error family: anything the user can fix, phrased as one line."""

from __future__ import annotations

import tomllib


class BenchError(Exception):
    """Bad input to the harness (file, key or value), reported as one line, exit code 2."""


class DataError(BenchError):
    """A data set that cannot be read as asked: missing folder, unpaired file, size mismatch."""


class DivergedError(BenchError):
    """Training produced a NaN or infinite loss."""


class CorruptFileError(BenchError):
    """A stored record or checkpoint that cannot be read back; the message names the file to delete."""


def printable(text: str) -> str:
    """``text`` with control and line-break characters escaped (``\\x85``), so a value from a file can never
    split a one-line message."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def one_line(exc: BaseException) -> str:
    """The first line of an exception as ``[Type: ]message``, naming the file for OS errors.

    BenchError/MorphError messages already name their file, key and value, so they go out as they are; any
    other type keeps its name, since a bare ``'abc'`` (a KeyError) or ``division by zero`` says too little.
    """
    from pydantic import ValidationError

    from morph.errors import MorphError

    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        text = f"{exc.title}: {where + ': ' if where else ''}{first['msg']} (got {str(first.get('input'))[:60]})"
    elif isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    elif isinstance(exc, RecursionError):
        text = "nested too deeply (RecursionError)"
    elif isinstance(exc, (BenchError, MorphError)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = [s for s in text.strip().splitlines() if s.strip()]
    return lines[0] if lines else type(exc).__name__


#: Everything the CLI turns into ``error: <one line>`` and exit code 2 (see :func:`bench.cli._user_errors`).
USER_ERRORS: tuple[type[BaseException], ...] = (BenchError, OSError, UnicodeError, tomllib.TOMLDecodeError,
                                                RecursionError)
