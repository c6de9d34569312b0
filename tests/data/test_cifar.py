from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import create_dataset
from bench.errors import DataError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _tree(write_image, root: Path, split: str, per_class: int) -> None:
    for label, name in enumerate(CLASSES):
        for i in range(per_class):
            write_image(root / split / name / f"{i:04d}.png", np.full((32, 32, 3), label * 20 + i))


def test_tiny_image_folder(write_image, tmp_path: Path) -> None:
    _tree(write_image, tmp_path, "train", 4)
    _tree(write_image, tmp_path, "test", 1)
    splits = create_dataset("cifar10", root=tmp_path, val_fraction=0.25, seed=0)
    assert splits.task == "classification" and splits.num_classes == 10 and splits.ignore_index is None
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 10, 10)
    image, label = splits.test[3]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert label.dtype == torch.int64 and label.item() == 3
    assert (image * 255).round().unique().tolist() == [60.0]
    assert splits.val.num_classes == 10


def test_class_mismatch_and_missing_root(write_image, tmp_path: Path) -> None:
    _tree(write_image, tmp_path, "train", 1)
    write_image(tmp_path / "test" / "airplane" / "0.png", np.zeros((32, 32, 3)))
    with pytest.raises(DataError, match="class folders"):
        create_dataset("cifar10", root=tmp_path)
    with pytest.raises(DataError, match="expected root/train/<class>/ images or root/cifar-10-batches-py"):
        create_dataset("cifar10", root=tmp_path / "nowhere")


def test_corrupt_image_names_file(write_image, tmp_path: Path) -> None:
    _tree(write_image, tmp_path, "train", 2)
    (tmp_path / "train" / "airplane" / "0000.png").write_bytes(b"not a png")
    splits = create_dataset("cifar10", root=tmp_path, val_fraction=0.5)
    index = next(i for i, (p, _) in enumerate(splits.train.dataset.samples) if p.name == "0000.png")
    with pytest.raises(DataError, match=r"airplane/0000.png: cannot read as an image"):
        splits.train.dataset[index]


@pytest.mark.shared_data
def test_real_subset(shared_set) -> None:
    root = shared_set("cifar10-subset")
    splits = create_dataset("cifar10", root=root, val_fraction=0.1, seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (4500, 500, 2000)
    assert splits.info["classes"] == CLASSES
    image, label = splits.test[1999]
    assert image.shape == (3, 32, 32) and 0 <= image.min() and image.max() <= 1
    assert label.item() == 9
