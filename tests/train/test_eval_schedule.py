"""Evaluation that costs what it must: when each split is scored, and that scoring never changes training."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from bench.data.splits import DatasetSplits
from bench.errors import BenchError
from bench.train import TrainConfig, train
from bench.train.loop import _TrainSizedBatches
from morph.models import UNet

Net = Callable[[], UNet]
BASE = TrainConfig(epochs=3, batch_size=4, lr=1e-2, progress=False)


class Counting(Dataset):
    """A split that counts how often its items are read."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> Any:
        self.reads += 1
        return self.inner[index]


class WithDropout(nn.Module):
    """Dropout draws from the global RNG every training step: a scoring pass that drew from it would show."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.drop = inner, nn.Dropout2d(0.3)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.inner(x))


def weights(model: nn.Module) -> list[Tensor]:
    return [v.clone() for v in model.state_dict().values()]


def test_train_split_is_scored_once_with_the_kept_weights(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    counted = Counting(tiny_splits.train)
    splits = replace(tiny_splits, train=counted)
    result = train(tiny_unet(), splits, BASE)
    n = len(counted)
    assert counted.reads == BASE.epochs * n + n  # every epoch's steps, plus one scoring pass at the end
    assert all(not k.startswith("train_") or k == "train_loss" for row in result.history for k in row)
    blog = train(tiny_unet(), tiny_splits, replace(BASE, eval_train_every_epoch=True))
    assert blog.best_epoch == result.best_epoch
    assert result.train_metrics == {k[6:]: v for k, v in blog.history[blog.best_epoch].items()
                                    if k.startswith("train_") and k != "train_loss"}


def test_no_train_metrics_when_eval_train_is_off(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    counted = Counting(tiny_splits.train)
    result = train(tiny_unet(), replace(tiny_splits, train=counted), replace(BASE, eval_train=False))
    assert result.train_metrics == {} and counted.reads == BASE.epochs * len(counted)


def test_per_epoch_train_scoring_leaves_the_weights_bit_identical(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    runs = {}
    for every_epoch in (False, True):
        torch.manual_seed(0)
        model = WithDropout(tiny_unet())
        result = train(model, tiny_splits, replace(BASE, eval_train_every_epoch=every_epoch, keep="last"))
        runs[every_epoch] = (weights(model), [row["train_loss"] for row in result.history])
    assert runs[False][1] == runs[True][1]
    assert all(torch.equal(a, b) for a, b in zip(runs[False][0], runs[True][0]))
    torch.manual_seed(0)
    other_seed = WithDropout(tiny_unet())
    train(other_seed, tiny_splits, replace(BASE, keep="last", seed=7))
    assert not all(torch.equal(a, b) for a, b in zip(runs[False][0], weights(other_seed)))  # the test can tell


@pytest.mark.parametrize("blog_bug", [False, True], ids=["train-mode", "blog-eval-mode-bug"])
def test_validating_less_often_leaves_the_trained_weights_bit_identical(
    tiny_splits: DatasetSplits, tiny_unet: Net, blog_bug: bool
) -> None:
    config = replace(BASE, epochs=4, keep="last", blog_eval_mode_bug=blog_bug)
    a, b = tiny_unet(), tiny_unet()
    train(a, tiny_splits, config)
    train(b, tiny_splits, replace(config, val_every=3))
    assert all(torch.equal(x, y) for x, y in zip(weights(a), weights(b)))


def test_val_every_k_scores_those_epochs_and_the_last(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    result = train(tiny_unet(), tiny_splits, replace(BASE, epochs=5, val_every=2))
    scored = [int(row["epoch"]) for row in result.history if not math.isnan(row["val_dice"])]
    assert scored == [1, 3, 4]
    assert set(result.history[0]) == set(result.history[1])  # unscored rows keep the keys (NaN), lists line up
    assert result.best_epoch in scored
    assert result.best_val == max(result.history[e]["val_dice"] for e in scored)


def test_metrics_see_training_sized_batches() -> None:
    class Sizes:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def update(self, logits: Tensor, target: Tensor) -> None:
            assert logits.shape[0] == target.shape[0]
            self.sizes.append(logits.shape[0])

        def compute(self) -> dict[str, float]:
            return {"batches": float(len(self.sizes))}

    inner = Sizes()
    wrapped = _TrainSizedBatches(inner, batch_size=4)
    wrapped.update(torch.zeros(16, 1, 2, 2), torch.zeros(16, 2, 2))
    wrapped.update(torch.zeros(6, 1, 2, 2), torch.zeros(6, 2, 2))
    assert inner.sizes == [4, 4, 4, 4, 4, 2] and wrapped.compute() == {"batches": 6.0}
    assert wrapped.sizes is inner.sizes  # anything else passes through


def test_larger_eval_batches_give_the_same_metrics(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    results = [train(tiny_unet(), tiny_splits, replace(BASE, epochs=1, eval_batch_size=size)) for size in (4, 12)]
    assert results[0].train_metrics == pytest.approx(results[1].train_metrics, abs=1e-6)
    assert results[0].val_metrics == pytest.approx(results[1].val_metrics, abs=1e-6)


def test_eval_batch_size_must_be_whole_training_batches() -> None:
    with pytest.raises(BenchError, match=r"^train.eval_batch_size must be a multiple of train.batch_size \(4\), got 6$"):
        TrainConfig(batch_size=4, eval_batch_size=6)
    with pytest.raises(BenchError, match=r"^train.val_every must be a positive integer, got 0$"):
        TrainConfig(val_every=0)
