"""The real sets in shared/data read through plain `folder` options (no per-set code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data import create_dataset

pytestmark = pytest.mark.shared_data


def test_isbi_membrane(shared_set) -> None:
    root = shared_set("isbi2012-membrane") / "train"
    splits = create_dataset("folder", root=root, image_dir="image", mask_dir="label", invert=True,
                            split="stems", val_stems=[str(i) for i in range(25, 30)])
    assert (len(splits.train), len(splits.val)) == (25, 5)
    assert [p.key for p in splits.train.pairs][:3] == ["0", "1", "2"]
    image, mask = splits.val[0]
    assert image.shape == (1, 512, 512) and image.dtype == torch.float32
    assert mask.shape == (512, 512) and mask.dtype == torch.int64
    assert mask.unique().tolist() == [0, 1]
    assert 0.1 < mask.float().mean() < 0.35  # membrane (positive after invert) is about 22%


def test_drive_with_field_of_view_as_ignore(shared_set) -> None:
    root = shared_set("drive")
    splits = create_dataset("folder", root=root, split="folders", split_dirs={"train": "training", "test": "test"},
                            image_dir="images", mask_dir="1st_manual", roi_dir="mask", stem_regex=r"^\d+",
                            size_mode="pad", size=[592, 576], val_fraction=0.2, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (16, 4, 20)
    assert [p.key for p in splits.test.pairs][:2] == ["01", "02"]
    assert all(p.mask.name == f"{p.key}_manual1.gif" for p in splits.train.pairs)
    for data in (splits.train, splits.test):
        for i in (0, len(data) - 1):
            image, mask = data[i]
            assert image.shape == (3, 592, 576) and mask.shape == (592, 576)
            assert set(mask.unique().tolist()) == {0, 1, 255}
            inside = mask[mask != 255]
            assert 0.05 < inside.float().mean() < 0.2  # vessels are about 12.5% of the FOV
            assert mask[584:].eq(255).all() and image[:, 584:].eq(0).all()


def test_drive_palette_gifs_decode_to_binary(shared_set) -> None:
    root = shared_set("drive")
    splits = create_dataset("folder", root=root / "training", image_dir="images", mask_dir="1st_manual",
                            stem_regex=r"^\d+", val_fraction=0.25)
    for data in (splits.train, splits.val):
        for i in range(len(data)):
            mask = data.decoder.decode(data.pairs[i].mask)
            assert set(np.unique(mask).tolist()) == {0, 1}


def test_camvid_index_labels(shared_set) -> None:
    root = shared_set("camvid")
    splits = create_dataset("folder", root=root, image_dir="val", mask_dir="valannot", encoding="index",
                            num_classes=11, ignore_values=[11], val_fraction=0.2, seed=0)
    assert (len(splits.train), len(splits.val)) == (81, 20) and splits.num_classes == 11
    image, mask = splits.train[0]
    assert image.shape == (3, 360, 480) and mask.shape == (360, 480) and mask.dtype == torch.int64
    values = set(mask.unique().tolist())
    assert values <= set(range(11)) | {255} and len(values) > 4


def test_camvid_building_binary_tiles(shared_set) -> None:
    root = shared_set("camvid")
    splits = create_dataset("folder", root=root, image_dir="val", mask_dir="valannot", encoding="index",
                            num_classes=11, ignore_values=[11], foreground_class=1,
                            size_mode="tile", size=[176, 240], val_fraction=0.2, seed=0)
    assert splits.num_classes == 2 and (len(splits.train), len(splits.val)) == (81 * 4, 20 * 4)
    values: set[int] = set()
    for i in range(8):
        image, mask = splits.train[i]
        assert image.shape == (3, 176, 240)
        values |= set(mask.unique().tolist())
    assert values == {0, 1, 255}
