"""Tiny image/mask files written per test (the shared real data sets: `shared_set` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _write_image(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def write_image() -> Callable[[Path, np.ndarray], Path]:
    """`write_image(path, uint8 array)`: save a PNG/GIF/TIFF by suffix, creating folders."""
    return _write_image


@pytest.fixture
def make_pairs(tmp_path: Path) -> Callable[..., Path]:
    """Write `n` RGB images (value = 10*i) and binary masks (left half foreground) under a folder."""

    def make(
        n: int = 5,
        shape: tuple[int, int] = (8, 12),
        base: Path | None = None,
        image_dir: str = "images",
        mask_dir: str = "masks",
        mask_name: str = "{stem}.png",
        stems: list[str] | None = None,
    ) -> Path:
        base = base or tmp_path / "set"
        h, w = shape
        for i, stem in enumerate(stems or [f"img{i}" for i in range(n)]):
            _write_image(base / image_dir / f"{stem}.png", np.full((h, w, 3), 10 * i))
            mask = np.zeros((h, w), np.uint8)
            mask[:, : w // 2] = 255
            _write_image(base / mask_dir / mask_name.format(stem=stem), mask)
        return base

    return make
