"""One error family for the library, so callers (the bench CLI) can catch it once."""

from __future__ import annotations


class MorphError(Exception):
    """A problem with the caller's input to `morph`, phrased as a one-line message."""


class UnsupportedLayerError(MorphError):
    """A module or op that the grouping or cost rules do not know."""
