"""Synthetic aerial building scenes: the built-in data set, so the benchmark runs with no download."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.data._scene import render_scene
from bench.data.splits import DatasetSplits, LabelledSubset, split_counts
from bench.errors import DataError


class _SceneStore:
    """The scenes of one (seed, size, count) as uint8 tensors, each rendered once on first use.

    Hand-written rather than ``functools.lru_cache`` per scene: one preallocated block per family keeps every
    scene as a tensor (no per-item numpy → tensor conversion, a quarter of float32's memory) and is shared by
    every dataset object and stage of the process.
    """

    def __init__(self, seed: int, size: int, count: int) -> None:
        self.seed, self.size = seed, size
        self.images = torch.empty((count, 3, size, size), dtype=torch.uint8)
        self.masks = torch.empty((count, size, size), dtype=torch.uint8)
        self.ready = torch.zeros(count, dtype=torch.bool)
        self.renders = 0

    def get(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.ready[index]:
            image, mask = render_scene(np.random.default_rng([self.seed, index]), self.size)
            self.images[index] = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
            self.masks[index] = torch.from_numpy(mask)
            self.ready[index] = True
            self.renders += 1
        return self.images[index], self.masks[index]


#: The most recently used scene families (key: seed, size, count); oldest dropped first.
_STORES: OrderedDict[tuple[int, int, int], _SceneStore] = OrderedDict()
_MAX_STORES = 8


def scene_store(seed: int, size: int, count: int) -> _SceneStore:
    """The process-wide store of one scene family, so repeated stages and datasets never re-render a scene."""
    key = (seed, size, count)
    store = _STORES.pop(key, None) or _SceneStore(seed, size, count)
    _STORES[key] = store
    while len(_STORES) > _MAX_STORES:
        _STORES.popitem(last=False)
    return store


class SyntheticBuildings(Dataset):
    """`count` procedural scenes; item i depends only on (seed, i, size), drawn on first use and kept
    (:func:`scene_store`).

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
        image, mask = scene_store(self.seed, self.size, self.count).get(index % self.count)
        return image.float().div_(255.0), mask.long()


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
