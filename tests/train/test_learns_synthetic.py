"""End to end: the blog's U-Net at base 16 learns the synthetic buildings on a 2-core CPU in about a minute."""

from __future__ import annotations

import time

import pytest
import torch

from bench.data.synthetic import synthetic_buildings
from bench.train import TrainConfig, train
from morph.models import blog_unet


@pytest.mark.slow
def test_blog_unet_reaches_val_dice_0_6_on_synthetic_buildings() -> None:
    # 64 scenes at 128×128: 48 train (12 steps of batch 4), 8 val, 8 test. Adam at 1e-3 (the blog's
    # 1e-4 is ~10× slower to get there); batch 4 doubles the steps per second of compute vs the blog's 8.
    splits = synthetic_buildings(64, size=128, seed=0)
    torch.manual_seed(0)
    model = blog_unet(base=16)
    config = TrainConfig(epochs=12, batch_size=4, lr=1e-3, loss="dice", seed=0, eval_train=False, progress=False)
    start = time.perf_counter()
    result = train(model, splits, config)
    elapsed = time.perf_counter() - start
    assert result.ok, result.message
    assert result.best_val >= 0.6, f"best val Dice {result.best_val:.3f} at epoch {result.best_epoch}"
    assert result.test_metrics is not None and result.test_metrics["dice"] >= 0.5
    print(f"val Dice {result.best_val:.3f} (epoch {result.best_epoch}), test Dice "
          f"{result.test_metrics['dice']:.3f}, {elapsed:.1f} s")
