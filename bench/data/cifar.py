"""CIFAR-10 for the classification smoke test: an ImageFolder tree or torchvision's binary batches.

Downloads only when the caller passes download=True; otherwise a missing set is a DataError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from bench.data._io import IMAGE_SUFFIXES
from bench.data.splits import DatasetSplits, LabelledSubset, seeded_partition, split_counts
from bench.errors import DataError


class ClassFolder(Dataset):
    """root/<class>/<file> images; label = position of the class folder in sorted order."""

    ignore_index: int | None = None

    def __init__(self, root: Path, classes: list[str] | None = None) -> None:
        if not root.is_dir():
            raise DataError(f"{root}: image-folder split not found")
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if classes is not None and found != classes:
            raise DataError(f"{root}: class folders {found} differ from the train split's {classes}")
        if not found:
            raise DataError(f"{root}: no class sub-folders (expected root/<class>/<image>)")
        self.classes = found
        self.num_classes: int = len(found)
        self.samples: list[tuple[Path, int]] = []
        for label, name in enumerate(found):
            files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise DataError(f"{root / name}: class folder holds no images")
            self.samples.extend((p, label) for p in files)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path, label = self.samples[index]
        try:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))
        except Exception as exc:
            raise DataError(f"{path}: cannot read as an image ({type(exc).__name__})") from None
        return _to_tensor(pixels), torch.tensor(label, dtype=torch.int64)


class CifarBatches(Dataset):
    """torchvision's CIFAR10 (python batches) held as one uint8 array, converted per item."""

    num_classes: int = 10
    ignore_index: int | None = None

    def __init__(self, root: Path, train: bool, download: bool = False) -> None:
        from torchvision.datasets import CIFAR10

        try:
            data = CIFAR10(str(root), train=train, download=download)
        except RuntimeError:
            raise DataError(f"{root}: no CIFAR-10 batches (cifar-10-batches-py); pass download=True to fetch") from None
        self.images = np.asarray(data.data)
        self.labels = np.asarray(data.targets, dtype=np.int64)
        self.classes = list(data.classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _to_tensor(self.images[index]), torch.tensor(self.labels[index], dtype=torch.int64)


def _to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)).div_(255.0)


def cifar10(root: str | Path, val_fraction: float = 0.1, seed: int = 0, download: bool = False) -> DatasetSplits:
    """Train/val/test with val carved (seeded) from train unless the tree has its own val/.

    Args:
        root: an ImageFolder tree (root/train/<class>/*.jpg, optional root/val, root/test) or
            a folder holding torchvision's cifar-10-batches-py.
        val_fraction: share of train held out when there is no val folder.
        seed: the shuffle before holding out val.
        download: let torchvision fetch the binary batches into root (off unless asked).
    """
    root = Path(root)
    if (root / "train").is_dir():
        train: Dataset = ClassFolder(root / "train")
        classes = train.classes  # type: ignore[attr-defined]
        val: Dataset | None = ClassFolder(root / "val", classes) if (root / "val").is_dir() else None
        test: Dataset | None = ClassFolder(root / "test", classes) if (root / "test").is_dir() else None
        layout = "image_folder"
    elif download or (root / "cifar-10-batches-py").is_dir():
        train, test, val = CifarBatches(root, True, download), CifarBatches(root, False, download), None
        classes = train.classes  # type: ignore[attr-defined]
        layout = "torchvision"
    else:
        raise DataError(f"{root}: expected root/train/<class>/ images or root/cifar-10-batches-py (or download=True)")
    if val is None:
        sizes = split_counts(len(train), val_fraction, 0.0, str(root))
        train_idx, val_idx, _ = seeded_partition(len(train), sizes, seed)
        train, val = LabelledSubset(train, train_idx), LabelledSubset(train, val_idx)
    return DatasetSplits(
        train=train,
        val=val,
        test=test,
        num_classes=len(classes),
        ignore_index=None,
        task="classification",
        info={"source": str(root), "layout": layout, "classes": classes, "seed": seed,
              "counts": [len(train), len(val), len(test) if test is not None else 0]},
    )
