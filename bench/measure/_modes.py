"""Restoring context managers for the global torch state a measurement touches (house style rule 17)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from morph.modes import eval_mode

__all__ = ["cudnn_benchmark", "eval_mode", "torch_threads"]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Set ``torch.set_num_threads`` for the block and put the previous count back; yields the count in force."""
    previous = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be ≥ 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


@contextmanager
def cudnn_benchmark(enabled: bool) -> Iterator[bool]:
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield enabled
    finally:
        torch.backends.cudnn.benchmark = previous
