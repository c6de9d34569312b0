"""Is the folder loader ever the bottleneck? Images/s of a shuffled tile loader against images/s of training.

Run: ``python -m pytest benchmarks/test_loader_speed.py --benchmark-enable -s``. For source images of 512² and
1500² pixels (JPEG and PNG, as real sets store them) cut into 128² tiles, one process measures, back to back:
- the loader: a full shuffled epoch from a cold cache (every decode included), batch 8, no workers;
- training: steps of the blog U-Net (base 16) on batches of the same tiles, Adam, cross-entropy.
Target (issue 15): loader images/s ≥ 3 × training images/s on 2 cores. The ratio is printed and stored in
``extra_info``; compare the ratio, not the seconds. It also checks that the epoch decoded each image once.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from bench.data import create_dataset
from morph.models import blog_unet

TILE, BATCH, IMAGES, STEPS = 128, 8, 6, 6


def _write_set(root: Path, side: int, suffix: str) -> Path:
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        # Smooth structure plus noise: decodes like a photograph, not like a flat or a random image.
        yy, xx = np.mgrid[0:side, 0:side]
        base = (np.sin(xx / (7 + i)) + np.cos(yy / 11)) * 60 + 128
        image = np.clip(base[..., None] + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / "images" / f"{i}{suffix}", quality=90)
        Image.fromarray(((base > 128) * 255).astype(np.uint8)).save(root / "masks" / f"{i}.png")
    return root


@pytest.mark.parametrize(("side", "suffix"), [(512, ".png"), (1500, ".jpg")])
def test_loader_outpaces_training(benchmark, tmp_path: Path, side: int, suffix: str) -> None:
    root = _write_set(tmp_path / f"set{side}", side, suffix)
    train = create_dataset("folder", root=root, val_fraction=1 / IMAGES, seed=0, size_mode="tile", size=TILE).train
    tiles = len(train)

    def epoch() -> None:
        train._cache.clear()
        for _ in DataLoader(train, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)):
            pass

    start = time.perf_counter()
    epoch()
    load_rate = tiles / (time.perf_counter() - start)
    assert train._cache.decodes == IMAGES - 1  # each training image once, however the tiles are shuffled

    torch.manual_seed(0)
    model = blog_unet(16, classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = next(iter(DataLoader(train, batch_size=BATCH, shuffle=True)))

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    train_rate = STEPS * BATCH / (time.perf_counter() - start)
    benchmark.pedantic(epoch, rounds=1, warmup_rounds=0)
    ratio = load_rate / train_rate
    benchmark.extra_info.update(loader_images_per_s=load_rate, train_images_per_s=train_rate, ratio=ratio)
    print(f"\n{side}² {suffix}: loader {load_rate:.0f} tiles/s, training {train_rate:.1f} tiles/s, ratio {ratio:.1f}×")
    assert ratio >= 3
