"""Inria Aerial Image Labeling: 5000x5000 city tiles cut into crops, as the MorphNet blog used them.

Official layout: ROOT/train/images/<city><n>.tif (RGB) and ROOT/train/gt/<city><n>.tif (0/255).
Tiles are memory-mapped when stored uncompressed, else decoded into a small LRU cache, so a
run never holds all tiles in RAM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.data._cache import ByteLRU
from bench.data._io import image_size, read_array, to_image_tensor
from bench.data._pairing import natural_key
from bench.data.splits import DatasetSplits, LabelledSubset, seeded_partition
from bench.errors import DataError

_TILE = re.compile(r"^([a-z_-]+?)(\d+)$", re.IGNORECASE)


class _TileReader:
    """Pixels of one tile file: a read-only memory map if possible (0 bytes held), else a decode kept in a
    byte-budget cache, so shuffled crops of a compressed tile decode it once, not once per crop."""

    def __init__(self, cache_bytes: int | None = None) -> None:
        self._cache: ByteLRU[np.ndarray] = ByteLRU(cache_bytes)

    def __call__(self, path: Path) -> np.ndarray:
        return self._cache.get(path, lambda: _map_or_decode(path))


def _map_or_decode(path: Path) -> np.ndarray:
    try:
        import tifffile

        return np.asarray(tifffile.memmap(path, mode="r"))
    except Exception:
        return read_array(path)


class InriaCrops(Dataset):
    """Row-major `crop`x`crop` windows of the given tiles; items are (image, mask 0/1 int64)."""

    num_classes: int = 2
    ignore_index: int | None = None

    def __init__(self, tiles: Sequence[tuple[Path, Path]], crop: int = 500, count: int | None = None) -> None:
        self.tiles = list(tiles)
        self.crop = crop
        self.crops: list[tuple[int, int, int]] = []
        for t, (image, mask) in enumerate(self.tiles):
            shape = image_size(image)
            if image_size(mask) != shape:
                raise DataError(f"{mask}: size {image_size(mask)} differs from its image {image.name} {shape}")
            rows, cols = shape[0] // crop, shape[1] // crop
            if rows == 0 or cols == 0:
                raise DataError(f"{image}: tile {shape[0]}x{shape[1]} is smaller than crop size {crop}")
            self.crops.extend((t, r * crop, c * crop) for r in range(rows) for c in range(cols))
        if count is not None:
            if count > len(self.crops):
                raise DataError(f"inria: asked for {count} crops but the tiles hold only {len(self.crops)}")
            self.crops = self.crops[:count]
        self._read = _TileReader()

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        t, top, left = self.crops[index]
        image_path, mask_path = self.tiles[t]
        box = (slice(top, top + self.crop), slice(left, left + self.crop))
        image = np.array(self._read(image_path)[box])
        mask = np.array(self._read(mask_path)[box])
        if mask.ndim == 3:
            mask = mask[..., 0]
        return to_image_tensor(image, image_path), torch.from_numpy((mask > 127).astype(np.int64))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_read"] = _TileReader()
        return state


def find_tiles(root: Path, cities: Sequence[str]) -> list[tuple[Path, Path]]:
    """(image, mask) paths for the cities' training tiles, in (city, number) order."""
    image_dir, gt_dir = root / "train" / "images", root / "train" / "gt"
    for folder in (root, image_dir, gt_dir):
        if not folder.is_dir():
            raise DataError(f"{folder}: Inria folder not found (expected ROOT/train/images and ROOT/train/gt)")
    wanted = {c.lower() for c in cities}
    tiles = []
    for path in image_dir.glob("*.tif"):
        match = _TILE.match(path.stem)
        if match and match.group(1).lower() in wanted:
            tiles.append(path)
    if not tiles:
        raise DataError(f"{image_dir}: no <city><n>.tif tiles for cities {sorted(wanted)}")
    tiles.sort(key=lambda p: natural_key(p.stem.lower()))
    pairs = []
    for path in tiles:
        mask = gt_dir / path.name
        if not mask.is_file():
            raise DataError(f"{path}: no ground-truth tile {mask.name} in {gt_dir}")
        pairs.append((path, mask))
    return pairs


def inria(
    root: str | Path,
    cities: Sequence[str] = ("vienna",),
    crop: int = 500,
    count: int | None = 600,
    val_count: int = 60,
    test_count: int = 0,
    seed: int = 0,
) -> DatasetSplits:
    """The first `count` crops (sorted tiles, row-major), split by a seeded shuffle into counts.

    Args:
        root: the folder holding train/images and train/gt.
        cities: city name prefixes of the tiles to use.
        crop: side of the square crops; 500 cuts a 5000x5000 tile into a 10x10 grid.
        count: how many crops in total (None = all).
        val_count: crops for validation; test_count: crops for testing (0 = none).
        seed: the shuffle before splitting.
    """
    root = Path(root)
    crops = InriaCrops(find_tiles(root, cities), crop, count)
    n = len(crops)
    n_train = n - val_count - test_count
    if val_count < 1 or test_count < 0 or n_train < 1:
        raise DataError(f"{root}: val_count={val_count}, test_count={test_count} of {n} crops leave an empty split")
    train, val, test = seeded_partition(n, (n_train, val_count, test_count), seed)
    return DatasetSplits(
        train=LabelledSubset(crops, train),
        val=LabelledSubset(crops, val),
        test=LabelledSubset(crops, test) if test else None,
        num_classes=2,
        ignore_index=None,
        task="segmentation",
        info={
            "source": str(root),
            "cities": list(cities),
            "tiles": [p.name for p, _ in crops.tiles],
            "crop": crop,
            "seed": seed,
            "counts": [n_train, val_count, test_count],
        },
    )
