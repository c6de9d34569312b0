"""Synthetic aerial building scenes: the built-in data set, so the benchmark runs with no download."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.data._scene import render_scene
from bench.data.splits import DatasetSplits, LabelledSubset, split_counts
from bench.errors import DataError


@lru_cache(maxsize=512)
def _render(seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    image, mask = render_scene(np.random.default_rng([seed, index]), size)
    image.setflags(write=False)
    mask.setflags(write=False)
    return image, mask


class SyntheticBuildings(Dataset):
    """`count` procedural scenes; item i depends only on (seed, i, size), drawn on first use.

    Items are (image float32 [3,size,size] in [0,1], mask int64 [size,size] with 1 = roof).
    """

    num_classes: int = 2
    ignore_index: int | None = None

    def __init__(self, count: int, size: int = 128, seed: int = 0) -> None:
        if count < 1:
            raise DataError(f"synthetic_buildings: count must be at least 1, got {count}")
        if size < 16:
            raise DataError(f"synthetic_buildings: size must be at least 16 pixels, got {size}")
        self.count = int(count)
        self.size = int(size)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -self.count <= index < self.count:
            raise IndexError(f"index {index} out of range for {self.count} scenes")
        image, mask = _render(self.seed, index % self.count, self.size)
        x = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32)).div_(255.0)
        return x, torch.from_numpy(mask.astype(np.int64))


def synthetic_buildings(
    count: int = 64,
    size: int = 128,
    seed: int = 0,
    val_fraction: float = 0.125,
    test_fraction: float = 0.125,
) -> DatasetSplits:
    """Train/val/test as consecutive index ranges of one scene family, so no scene is shared.

    Args:
        count: scenes in all three splits together.
        size: side of each square scene in pixels.
        seed: picks the scene family; the same seed always gives the same pixels.
        val_fraction: share of `count` for validation.
        test_fraction: share of `count` for testing (0 = no test split).
    """
    scenes = SyntheticBuildings(count, size, seed)
    n_train, n_val, n_test = split_counts(count, val_fraction, test_fraction, "synthetic_buildings")
    train = LabelledSubset(scenes, range(n_train))
    val = LabelledSubset(scenes, range(n_train, n_train + n_val))
    test = LabelledSubset(scenes, range(n_train + n_val, count)) if n_test else None
    return DatasetSplits(
        train=train,
        val=val,
        test=test,
        num_classes=2,
        ignore_index=None,
        task="segmentation",
        info={"source": "synthetic", "size": size, "seed": seed, "counts": [n_train, n_val, n_test]},
    )
