"""Seeding helpers: same seed, same draws; the caller's global state comes back."""

from __future__ import annotations

import random

import numpy as np
import torch

from bench.train.determinism import deterministic_algorithms, loader_generator, seed_everything, seeded


def draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), torch.rand(()).item()


def test_seed_everything_repeats_all_three_generators() -> None:
    seed_everything(7)
    first = draws()
    seed_everything(7)
    assert draws() == first


def test_seeded_restores_the_callers_streams() -> None:
    seed_everything(3)
    expected = draws()
    seed_everything(3)
    with seeded(99):
        inside = draws()
    assert draws() == expected
    seed_everything(3)
    with seeded(99):
        assert draws() == inside


def test_loader_generator_is_its_own_stream() -> None:
    a = torch.randperm(10, generator=loader_generator(5))
    torch.rand(100)  # the global stream moving does not change the order
    assert torch.equal(torch.randperm(10, generator=loader_generator(5)), a)


def test_deterministic_algorithms_restores_flags() -> None:
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    with deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before
    with deterministic_algorithms(False):
        assert torch.are_deterministic_algorithms_enabled() == before[0]
