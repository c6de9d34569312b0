"""Seeding and deterministic-kernel switches, so one seed on one machine gives one set of numbers.

Global torch state is only changed inside restoring context managers (house style §17): :func:`seeded`
puts the torch, numpy and ``random`` generators back on exit, :func:`deterministic_algorithms` the
deterministic-kernel and cuDNN flags.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and all CUDA devices), numpy and ``random`` from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def loader_generator(seed: int) -> torch.Generator:
    """The generator a DataLoader shuffles with: its own stream, so model init does not shift the order."""
    return torch.Generator().manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoader workers: numpy and ``random`` follow the worker's torch seed.

    torch already gives each worker ``base_seed + worker_id`` (drawn from the loader's generator);
    numpy and ``random`` would otherwise start identical in every worker (or unseeded).
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed everything for the block, then restore the caller's generator states."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        seed_everything(seed)
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Ask for deterministic kernels (and no cuDNN autotuning) inside the block; restore the flags after.

    ``warn_only=True``: an op without a deterministic kernel warns instead of failing a long run. On CUDA,
    cuBLAS also needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment before the process starts.
    With ``enabled=False`` nothing is changed.
    """
    if not enabled:
        yield
        return
    prev_algos = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        yield
    finally:
        torch.use_deterministic_algorithms(prev_algos, warn_only=prev_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn
