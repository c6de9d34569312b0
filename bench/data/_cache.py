"""Decoded pixels kept in memory up to a byte budget, so shuffled tiles of one image decode it once.

A count-limited LRU (the old rule: the last 4 images) is useless under random access: with shuffled tiles nearly
every tile decoded its whole source image again. The data sets of this project fit in a few hundred MB decoded
(ISBI 30 × 512², DRIVE 40 × 584×565, CamVid 101 × 720×960), so the default budget keeps a whole set and every
image is decoded once per process (DataLoader workers each keep their own, for the life of the persistent worker).
A set larger than the budget falls back to least-recently-used eviction by bytes.

functools.lru_cache cannot bound by bytes, and cachetools would be a new dependency for twenty lines.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")

#: Default budget for decoded pixels per process; ``MORPH_BENCH_DATA_CACHE_MB`` overrides it.
DEFAULT_CACHE_MB = 2048


def default_budget() -> int:
    """Bytes of decoded pixels one process may keep (``MORPH_BENCH_DATA_CACHE_MB``, else 2 GiB)."""
    raw = os.environ.get("MORPH_BENCH_DATA_CACHE_MB", "")
    try:
        return max(0, int(raw)) * 2**20 if raw else DEFAULT_CACHE_MB * 2**20
    except ValueError:
        return DEFAULT_CACHE_MB * 2**20


def _nbytes(value: object) -> int:
    if isinstance(value, np.ndarray):
        mapped = isinstance(value, np.memmap) or isinstance(value.base, np.memmap)
        return 0 if mapped else int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    return 0


class ByteLRU(Generic[V]):
    """``cache.get(key, load)``: the value of `key`, loaded once and kept while the total stays under `budget`.

    Memory-mapped arrays count as 0 bytes (the page cache holds them, not this process). ``decodes`` counts the
    calls to `load`, so a test can see that a whole epoch of shuffled tiles decodes each image once.
    """

    def __init__(self, budget: int | None = None) -> None:
        self.budget = default_budget() if budget is None else budget
        self.decodes = 0
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key][0]
        value = load()
        self.decodes += 1
        size = _nbytes(value)
        self._items[key] = (value, size)
        self._bytes += size
        while self._bytes > self.budget and len(self._items) > 1:
            _, (_, freed) = self._items.popitem(last=False)
            self._bytes -= freed
        return value

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)
