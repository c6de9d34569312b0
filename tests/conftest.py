"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).parents[1] / ".." / "shared" / "data").resolve()


def _shared_set(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data set {name} not present at {path}")
    return path


@pytest.fixture
def shared_set() -> Callable[[str], Path]:
    """`shared_set(name)`: the real data set's folder in ../shared/data, or a skip saying why the test cannot run
    (a user's clone has no such folder; CI has it)."""
    return _shared_set
