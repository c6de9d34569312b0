"""Tiny data and models so each training test runs in about a second on one core."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from bench.data.splits import DatasetSplits
from bench.data.synthetic import synthetic_buildings
from morph.models import UNet, blog_unet


@pytest.fixture
def tiny_splits() -> DatasetSplits:
    """16 synthetic 32×32 scenes: 12 train (3 batches of 4), 2 val, 2 test."""
    return synthetic_buildings(16, size=32, seed=0)


@pytest.fixture
def tiny_unet() -> Callable[[], UNet]:
    """Builds a two-level blog U-Net (ReLU→BN) at base width 4, always from seed 0."""

    def build() -> UNet:
        torch.manual_seed(0)
        return blog_unet(base=4, depth=2)

    return build
