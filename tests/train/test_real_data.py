"""End to end on a real set: a small U-Net learns the ISBI 2012 membranes from shared/data."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from bench.data import create_dataset
from bench.train import TrainConfig, train
from morph.models import blog_unet


@pytest.mark.slow
@pytest.mark.shared_data
def test_blog_unet_beats_all_foreground_dice_on_isbi_membranes(shared_set: Callable[[str], Path]) -> None:
    """Foreground is the membrane (invert=True: the labels draw membrane black, cell interior white).

    Membrane is ~20% of the pixels, so predicting "all membrane" scores Dice 2P/(P+N) ≈ 0.33, while
    "all interior" would already score ≈ 0.88 with the classes swapped, leaving no room to show
    learning. 8 training images cut into 128×128 tiles (128 tiles), val = images 25–29 (80 tiles);
    4 epochs of a base-8 U-Net reach val Dice ≈ 0.74 in about 25 s on one idle CPU core.
    """
    root = shared_set("isbi2012-membrane") / "train"
    splits = create_dataset("folder", root=root, image_dir="image", mask_dir="label", invert=True,
                            size_mode="tile", size=128, split="stems",
                            train_stems=[str(i) for i in range(8)], val_stems=[str(i) for i in range(25, 30)])
    assert (len(splits.train), len(splits.val)) == (8 * 16, 5 * 16)

    positives = total = 0
    for i in range(len(splits.val)):
        _, mask = splits.val[i]
        positives += int(mask.eq(1).sum())
        total += int(mask.ne(splits.ignore_index).sum())
    baseline = 2 * positives / (positives + total)  # Dice of predicting foreground everywhere
    assert 0.2 < baseline < 0.5

    torch.manual_seed(0)
    model = blog_unet(base=8, in_channels=1)
    config = TrainConfig(epochs=4, batch_size=8, lr=1e-3, loss="bce_dice", seed=0, eval_train=False, progress=False)
    start = time.perf_counter()
    result = train(model, splits, config)
    elapsed = time.perf_counter() - start
    assert result.ok, result.message
    curve = " ".join(f"{row['val_dice']:.3f}" for row in result.history)
    assert result.best_val > baseline + 0.25, f"val Dice {curve} vs all-foreground {baseline:.3f}"
    print(f"val Dice {result.best_val:.3f} (epoch {result.best_epoch}) vs all-foreground {baseline:.3f}, "
          f"{elapsed:.1f} s")
