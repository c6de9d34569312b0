"""What every data-set factory returns, and the seeded splitting they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Subset

from bench.errors import DataError


@dataclass
class DatasetSplits:
    """Train/val(/test) data sets plus what the pipeline needs to build a head and a loss.

    `task` is "segmentation" (items are image [C,H,W] float32, mask [H,W] int64) or
    "classification" (items are image, 0-d int64 label). `info` records where the data came
    from (path, counts, seed) so a stored result can say what it was trained on.
    """

    train: Dataset
    val: Dataset
    test: Dataset | None
    num_classes: int
    ignore_index: int | None
    task: str
    info: dict[str, Any] = field(default_factory=dict)
    #: The class left out of mean Dice (0); None when every class is a real class (e.g. CamVid's sky).
    background: int | None = 0


class LabelledSubset(Subset):
    """A `Subset` that keeps its parent's `num_classes` and `ignore_index`, as the contract asks."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        super().__init__(dataset, list(indices))
        self.num_classes: int = dataset.num_classes  # type: ignore[attr-defined]
        self.ignore_index: int | None = dataset.ignore_index  # type: ignore[attr-defined]


def split_counts(n: int, val_fraction: float, test_fraction: float, what: str) -> tuple[int, int, int]:
    """(train, val, test) sizes from fractions, rounded; an empty train or val set is an error.

    Args:
        n: how many items there are to split.
        val_fraction: share for validation, in (0, 1).
        test_fraction: share for testing, in [0, 1); 0 means no test set.
        what: the data source, named in error messages.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise DataError(f"{what}: {name} must be in [0, 1), got {value}")
    n_val = int(round(n * val_fraction))
    n_test = int(round(n * test_fraction))
    n_train = n - n_val - n_test
    if n_val == 0:
        raise DataError(f"{what}: val_fraction={val_fraction} of {n} items leaves an empty val split")
    if test_fraction > 0 and n_test == 0:
        raise DataError(f"{what}: test_fraction={test_fraction} of {n} items leaves an empty test split")
    if n_train <= 0:
        raise DataError(f"{what}: val/test fractions leave an empty train split ({n} items)")
    return n_train, n_val, n_test


def seeded_partition(n: int, sizes: tuple[int, int, int], seed: int) -> tuple[list[int], list[int], list[int]]:
    """Shuffle range(n) with `seed` and cut it into train/val/test index lists (each sorted)."""
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val, n_test = sizes
    train = sorted(int(i) for i in order[:n_train])
    val = sorted(int(i) for i in order[n_train : n_train + n_val])
    test = sorted(int(i) for i in order[n_train + n_val : n_train + n_val + n_test])
    return train, val, test
