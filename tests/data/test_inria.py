from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from bench.data import create_dataset
from bench.errors import DataError


def _write_tiles(root: Path, names: list[str], side: int = 40, compression: str | None = None) -> None:
    (root / "train" / "images").mkdir(parents=True, exist_ok=True)
    (root / "train" / "gt").mkdir(parents=True, exist_ok=True)
    for t, name in enumerate(names):
        rgb = np.zeros((side, side, 3), np.uint8)
        rgb[..., 0] = t  # which tile
        rgb[..., 1] = np.arange(side)[:, None]  # row
        rgb[..., 2] = np.arange(side)[None, :]  # column
        gt = np.where(np.arange(side)[None, :] % 20 < 10, 255, 0).repeat(side, 0).astype(np.uint8)
        tifffile.imwrite(root / "train" / "images" / f"{name}.tif", rgb, compression=compression)
        tifffile.imwrite(root / "train" / "gt" / f"{name}.tif", gt, compression=compression)


def test_crops_in_sorted_tile_then_row_major_order(tmp_path: Path) -> None:
    _write_tiles(tmp_path, ["vienna10", "vienna2", "austin1"])
    splits = create_dataset("inria", root=tmp_path, crop=10, count=20, val_count=4, seed=0)
    assert splits.info["tiles"] == ["vienna2.tif", "vienna10.tif"]
    crops = splits.train.dataset
    assert len(crops) == 20 and crops.crops[16] == (1, 0, 0)  # vienna10 starts after 16 crops
    image, mask = crops[5]  # tile vienna2, row 1, col 1
    assert image.shape == (3, 10, 10) and image.dtype == torch.float32
    assert (image[1, 0, 0] * 255).round() == 10 and (image[2, 0, 0] * 255).round() == 10
    assert mask.dtype == torch.int64 and mask[:, :].unique().tolist() == [0]
    assert crops[4][1].unique().tolist() == [1]
    assert (len(splits.train), len(splits.val), splits.test) == (16, 4, None)
    assert not set(splits.train.indices) & set(splits.val.indices)
    again = create_dataset("inria", root=tmp_path, crop=10, count=20, val_count=4, seed=0)
    assert again.val.indices == splits.val.indices


def test_other_cities_test_count_and_compressed_tiles(tmp_path: Path) -> None:
    _write_tiles(tmp_path, ["austin1", "tyrol-w3"], compression="zlib")
    splits = create_dataset("inria", root=tmp_path, cities=["tyrol-w"], crop=20, count=None, val_count=1, test_count=1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (2, 1, 1)
    assert splits.test.num_classes == 2
    image, mask = splits.test[0]
    assert image.shape == (3, 20, 20) and set(mask.unique().tolist()) == {0, 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cities": ["paris"]}, "no <city><n>.tif tiles for cities"),
        ({"count": 999}, "asked for 999 crops but the tiles hold only 16"),
        ({"count": 4, "val_count": 4}, "leave an empty split"),
        ({"crop": 50}, "smaller than crop size 50"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict, message: str) -> None:
    _write_tiles(tmp_path, ["vienna1"])
    options = {"crop": 10, "count": 16, "val_count": 2} | kwargs
    with pytest.raises(DataError, match=message):
        create_dataset("inria", root=tmp_path, **options)


def test_missing_folder_and_missing_gt(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train/images: Inria folder not found"):
        create_dataset("inria", root=tmp_path)
    _write_tiles(tmp_path, ["vienna1"])
    (tmp_path / "train" / "gt" / "vienna1.tif").unlink()
    with pytest.raises(DataError, match=r"vienna1.tif: no ground-truth tile vienna1.tif"):
        create_dataset("inria", root=tmp_path, crop=10, count=16, val_count=2)
