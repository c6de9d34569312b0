"""Data sets by name: each factory returns `DatasetSplits` (train/val/test + classes + task).

Segmentation items are (image float32 [C,H,W] in [0,1], mask int64 [H,W] with class indices
and `ignore_index` where pixels do not count); classification items are (image, int64 label).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from morph.registry import Registry

from bench.data import cifar, folder, inria, synthetic
from bench.data.splits import DatasetSplits
from bench.data.synthetic import SyntheticBuildings
from bench.errors import BenchError, DataError

DATASETS: Registry[Callable[..., DatasetSplits]] = Registry("data set", error=BenchError)
DATASETS.register("synthetic_buildings")(synthetic.synthetic_buildings)
DATASETS.register("inria")(inria.inria)
DATASETS.register("folder")(folder.folder)
DATASETS.register("cifar10")(cifar.cifar10)


def register_dataset(name: str) -> Callable[[Callable[..., DatasetSplits]], Callable[..., DatasetSplits]]:
    """Decorator for a new factory `f(**kwargs) -> DatasetSplits` under `name`."""
    return DATASETS.register(name)


def create_dataset(name: str, **kwargs: Any) -> DatasetSplits:
    """Build the named data set's splits; an unknown name is a one-line DataError with a suggestion."""
    if name not in DATASETS:
        raise DataError(DATASETS.unknown_message(name))
    factory = DATASETS.get(name)
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        raise DataError(f"data set '{name}': {exc}") from None
    return factory(**kwargs)


def dataset_names() -> list[str]:
    return DATASETS.names()


__all__ = [
    "DATASETS",
    "DataError",
    "DatasetSplits",
    "SyntheticBuildings",
    "create_dataset",
    "dataset_names",
    "register_dataset",
]
