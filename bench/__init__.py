"""bench: declarative MorphNet benchmark suites, resumable results, reports (CLI: ``bench``)."""

from __future__ import annotations

from typing import Any


def load_model(case_id: str, results: str = "results", stage: str | None = None) -> Any:
    """The compressed model of a finished case: ``from bench import load_model; m = load_model("3f2a9c")``."""
    from bench.api import load_model as _load

    return _load(case_id, results, stage)


__all__ = ["load_model"]
