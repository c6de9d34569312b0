"""The harness's error family: anything the user can fix, phrased as one line."""

from __future__ import annotations


class BenchError(Exception):
    """Bad input to the harness (file, key or value), reported as one line, exit code 2."""


class DataError(BenchError):
    """A data set that cannot be read as asked: missing folder, unpaired file, size mismatch."""


class DivergedError(BenchError):
    """Training produced a NaN or infinite loss."""
