"""The harness's training loop against a bare PyTorch loop doing the same job, side by side in one process.

Run: ``python -m pytest benchmarks/test_loop_overhead.py --benchmark-enable -s``. Same model, data, loss,
optimizer and shuffling; the bare loop also scores validation every epoch and the train and test splits once at
the end (what the harness's defaults do), with plain tensor ops. Runs alternate (drift hits all alike); printed and kept
in ``extra_info``: ``harness_ratio`` (defaults / bare, target ≤ 1.05, issue 16) and ``per_epoch_train_ratio``
(with the blog's per-epoch train scoring, the default before issue 16).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch.utils.data import DataLoader

from bench.data.synthetic import synthetic_buildings
from bench.train import TrainConfig, train
from bench.train.determinism import loader_generator
from bench.train.losses import create_loss
from morph.models import blog_unet

ROUNDS = 3
SPLITS = synthetic_buildings(48, size=96, seed=0)  # 36 train, 6 val, 6 test
CONFIG = TrainConfig(epochs=2, batch_size=8, lr=1e-3, loss="dice", progress=False, seed=0)


def _dice(model: torch.nn.Module, data: Any) -> float:
    model.eval()
    tp = total = 0.0
    with torch.no_grad():
        for x, y in DataLoader(data, batch_size=4 * CONFIG.batch_size):
            pred = (model(x)[:, 0] > 0).long()
            tp += float((pred * y).sum())
            total += float(pred.sum() + y.sum())
    return 2 * tp / max(total, 1.0)


def bare() -> None:
    torch.manual_seed(0)
    model = blog_unet(base=16)
    loss_fn = create_loss("dice", 2, None, task="segmentation")
    opt = torch.optim.Adam(model.parameters(), lr=CONFIG.lr)
    loader = DataLoader(SPLITS.train, batch_size=CONFIG.batch_size, shuffle=True,
                        generator=loader_generator(CONFIG.seed))
    for _ in range(CONFIG.epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x).float(), y).backward()
            opt.step()
        _dice(model, SPLITS.val)
    _dice(model, SPLITS.train)
    _dice(model, SPLITS.test)


def harness(**overrides: Any) -> None:
    torch.manual_seed(0)
    train(blog_unet(base=16), SPLITS, TrainConfig(**{**CONFIG.__dict__, **overrides}))


def test_harness_loop_against_bare_loop(benchmark) -> None:
    variants = {"bare": bare, "harness": harness, "per_epoch_train": lambda: harness(eval_train_every_epoch=True)}
    for run in variants.values():  # warm-up: scenes drawn, kernels picked
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}

    def one_round() -> None:
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=0)
    bare_s = statistics.median(times["bare"])
    info = {"bare_s": bare_s, "harness_ratio": statistics.median(times["harness"]) / bare_s,
            "per_epoch_train_ratio": statistics.median(times["per_epoch_train"]) / bare_s,
            "threads": torch.get_num_threads()}
    benchmark.extra_info.update(info)
    print("\n" + ", ".join(f"{k} {v:.3g}" for k, v in info.items()))
    assert info["harness_ratio"] <= 1.05, info
