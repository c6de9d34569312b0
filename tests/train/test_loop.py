"""The training loop on tiny data: repeatability, divergence, hooks, the blog's BN bug, best checkpoint."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from bench.data.splits import DatasetSplits
from bench.errors import BenchError
from bench.train import TIMING_KEYS, TrainConfig, TrainHooks, evaluate, train
from bench.train.metrics import create_metrics
from morph.models import CifarCNN, UNet

Net = Callable[[], UNet]
FAST = TrainConfig(epochs=2, batch_size=4, lr=1e-2, progress=False)


def without_timing(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in history]


def first_bn(model: nn.Module) -> nn.BatchNorm2d:
    return next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_same_seed_same_numbers(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    a, b = tiny_unet(), tiny_unet()
    ra, rb = train(a, tiny_splits, FAST), train(b, tiny_splits, FAST)
    assert ra.status == rb.status == "ok" and ra.steps == rb.steps == 2 * 3
    assert without_timing(ra.history) == without_timing(rb.history)
    assert (ra.val_metrics, ra.test_metrics) == (rb.val_metrics, rb.test_metrics)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    rc = train(tiny_unet(), tiny_splits, TrainConfig(epochs=2, batch_size=4, lr=1e-2, progress=False, seed=1))
    assert without_timing(rc.history) != without_timing(ra.history)  # the seed reaches the shuffling


def test_history_rows_and_result(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    result = train(tiny_unet(), tiny_splits, FAST)
    assert [row["epoch"] for row in result.history] == [0, 1]
    assert {"train_loss", "extra_loss", "lr", "val_dice_batch_mean", "val_iou"} <= set(result.history[0])
    assert "train_dice" not in result.history[0] and set(result.train_metrics) == set(result.val_metrics)
    assert TIMING_KEYS <= set(result.history[0])
    assert result.monitor == "dice" and result.best_val == result.history[result.best_epoch]["val_dice"]
    assert result.test_metrics is not None and set(result.test_metrics) == set(result.val_metrics)
    assert result.train_time_s > 0 and result.ok and result.message == ""


class NaNAfter(nn.Module):
    """Wraps a model and poisons its output from the ``n``-th training forward on."""

    def __init__(self, inner: nn.Module, n: int) -> None:
        super().__init__()
        self.inner, self.n, self.calls = inner, n, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
        out = self.inner(x)
        return out * math.nan if self.training and self.calls >= self.n else out


def test_nan_loss_ends_the_run_as_diverged(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    model = NaNAfter(tiny_unet(), n=5)  # 3 steps per epoch: call 5 is epoch 1, step 1
    result = train(model, tiny_splits, TrainConfig(epochs=3, batch_size=4, progress=False))
    assert result.status == "diverged" and not result.ok
    assert result.message == "task loss became nan at epoch 1, step 1 (global step 4)"
    assert len(result.history) == 1 and result.best_epoch == 0 and result.steps == 4
    assert result.test_metrics is not None  # scored with the epoch-0 checkpoint


def test_divergence_on_the_first_step_and_in_the_extra_loss(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    hooks = TrainHooks(extra_loss=lambda: torch.tensor(math.inf))
    result = train(tiny_unet(), tiny_splits, FAST, hooks=hooks)
    assert result.status == "diverged" and result.message.startswith("extra loss became inf at epoch 0, step 0")
    assert result.history == [] and result.best_epoch == -1 and math.isnan(result.best_val)
    assert result.val_metrics == {} and result.test_metrics is None


def gamma_mean(model: nn.Module) -> float:
    return torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, nn.BatchNorm2d)]).mean().item()


def test_extra_loss_hook_really_regularises(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    plain, reg = tiny_unet(), tiny_unet()
    gammas = [m.weight for m in reg.modules() if isinstance(m, nn.BatchNorm2d)]
    calls: dict[str, list[int]] = {"after_step": [], "epochs": []}

    def penalty_row(epoch: int) -> dict[str, float]:
        calls["epochs"].append(epoch)
        return {"gamma_mean": gamma_mean(reg)}

    hooks = TrainHooks(extra_loss=lambda: 100 * sum(g.abs().sum() for g in gammas),
                       after_step=lambda optimizer: calls["after_step"].append(1), on_epoch_end=penalty_row)
    r_plain = train(plain, tiny_splits, FAST, hooks=TrainHooks(on_epoch_end=lambda e: {"gamma_mean": gamma_mean(plain)}))
    r_reg = train(reg, tiny_splits, FAST, hooks=hooks)
    # The penalty's gradient dominates, so Adam moves every γ down by lr per step: 6 steps × 1e-2 from 1.0.
    assert r_reg.history[-1]["gamma_mean"] == pytest.approx(1 - 6 * 1e-2, abs=1e-4)
    assert abs(r_plain.history[-1]["gamma_mean"] - 1) < 0.02
    assert r_reg.history[0]["extra_loss"] > 1000 and r_plain.history[0]["extra_loss"] == 0
    assert (len(calls["after_step"]), calls["epochs"]) == (r_reg.steps, [0, 1])


def test_after_backward_edits_the_gradients_the_step_uses(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    """A pruner's sparse-training term goes on the gradients between backward and step: zeroing the head's
    gradient there must freeze the head (under Adam without weight decay), and the hook runs once per step."""
    model = tiny_unet()
    head = model.head.weight.detach().clone()
    seen: list[bool] = []

    def zero_head() -> None:
        seen.append(model.head.weight.grad is not None)
        model.head.weight.grad.zero_()
        model.head.bias.grad.zero_()

    result = train(model, tiny_splits, FAST, hooks=TrainHooks(after_backward=zero_head))
    assert torch.equal(model.head.weight, head) and len(seen) == result.steps and all(seen)
    moved = tiny_unet()
    start = moved.head.weight.detach().clone()
    train(moved, tiny_splits, FAST)
    assert not torch.equal(moved.head.weight, start)  # without the hook the head does move


def test_param_groups_replace_model_parameters(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    model = tiny_unet()
    head = model.head.weight.detach().clone()
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    hooks = TrainHooks(param_groups=[{"params": body}, {"params": list(model.head.parameters()), "lr": 0.0}])
    train(model, tiny_splits, FAST, hooks=hooks)
    assert torch.equal(model.head.weight, head)


def running_means(model: nn.Module, config: TrainConfig, splits: DatasetSplits) -> list[torch.Tensor]:
    snaps: list[torch.Tensor] = []
    bn = first_bn(model)
    train(model, splits, config, hooks=TrainHooks(on_epoch_end=lambda e: snaps.append(bn.running_mean.clone()) or {}))
    return snaps


def test_blog_eval_mode_bug_freezes_bn_statistics_after_epoch_0(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    config = TrainConfig(epochs=3, batch_size=4, lr=1e-2, progress=False)
    fixed = running_means(tiny_unet(), config, tiny_splits)
    buggy = running_means(tiny_unet(), replace(config, blog_eval_mode_bug=True), tiny_splits)
    assert not torch.equal(fixed[0], fixed[1]) and not torch.equal(fixed[1], fixed[2])
    assert torch.equal(buggy[0], fixed[0])  # epoch 0 is the same in both
    assert torch.equal(buggy[0], buggy[1]) and torch.equal(buggy[1], buggy[2])


def test_best_validation_checkpoint_is_restored(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    model = tiny_unet()
    snaps: dict[int, dict[str, torch.Tensor]] = {}

    def wreck_after_epoch_0(optimizer: torch.optim.Optimizer) -> None:
        if snaps:  # epoch 0 has ended: make every prediction background → val Dice 0
            with torch.no_grad():
                model.head.weight.zero_()
                model.head.bias.fill_(-50.0)

    def snapshot(epoch: int) -> dict[str, float]:
        snaps[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
        return {}

    result = train(model, tiny_splits, TrainConfig(epochs=3, batch_size=4, lr=1e-2, progress=False),
                   hooks=TrainHooks(after_step=wreck_after_epoch_0, on_epoch_end=snapshot))
    assert result.history[0]["val_dice"] > 0 and result.history[2]["val_dice"] == 0
    assert result.best_epoch == 0 and result.val_metrics["dice"] == result.history[0]["val_dice"]
    assert all(torch.equal(v, snaps[0][k]) for k, v in model.state_dict().items())
    again = evaluate(model, _batches(tiny_splits.val), create_metrics("segmentation", 2, None))
    assert again == result.val_metrics


def _batches(data: torch.utils.data.Dataset) -> list[tuple[torch.Tensor, torch.Tensor]]:
    items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
    return [(torch.stack([x for x, _ in items]), torch.stack([y for _, y in items]))]


def test_classification_tracks_accuracy() -> None:
    g = torch.Generator().manual_seed(0)
    images, labels = torch.rand(24, 3, 8, 8, generator=g), torch.randint(0, 3, (24,), generator=g)
    data = lambda a, b: TensorDataset(images[a:b], labels[a:b])
    splits = DatasetSplits(data(0, 16), data(16, 20), data(20, 24), 3, None, "classification")
    torch.manual_seed(0)
    model = CifarCNN(dict(conv0=4, conv1=4, conv2=4, conv3=4, conv4=4, fc0=8), classes=3, image_size=8)
    result = train(model, splits, TrainConfig(epochs=2, batch_size=8, lr=1e-2, progress=False))
    assert result.ok and result.monitor == "accuracy"
    assert set(result.val_metrics) == {"accuracy"} and "val_accuracy" in result.history[0]
    assert result.best_val == max(row["val_accuracy"] for row in result.history)


def test_amp_and_channels_last_on_cpu(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    config = TrainConfig(epochs=1, batch_size=4, lr=1e-2, amp=True, channels_last=True, max_steps_per_epoch=2,
                         progress=False)
    result = train(tiny_unet(), tiny_splits, config)
    assert result.ok and result.steps == 2 and math.isfinite(result.history[0]["train_loss"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_amp_channels_last(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    model = tiny_unet()
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-2, device="cuda", amp=True, channels_last=True,
                         deterministic=True, progress=False)
    result = train(model, tiny_splits, config)
    assert result.ok and math.isfinite(result.history[-1]["train_loss"])
    assert next(model.parameters()).is_cuda


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_device_is_one_line(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    with pytest.raises(BenchError, match="train.device is 'cuda' but torch sees no CUDA device"):
        train(tiny_unet(), tiny_splits, TrainConfig(device="cuda", progress=False))


def test_unknown_monitor_and_loss(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    with pytest.raises(BenchError, match="train.monitor 'miou' is not a segmentation metric"):
        train(tiny_unet(), tiny_splits, TrainConfig(monitor="miou", progress=False))
    with pytest.raises(BenchError, match="unknown binary loss 'focal'"):
        train(tiny_unet(), tiny_splits, TrainConfig(loss="focal", progress=False))


@pytest.mark.parametrize("every", [2, 4, 100])
def test_deferred_checks_still_name_the_step(tiny_splits: DatasetSplits, tiny_unet: Net, every: int) -> None:
    """Losses checked every k steps (as on CUDA): the message names the step where the NaN appeared."""
    model = NaNAfter(tiny_unet(), n=5)  # 3 steps per epoch: call 5 is epoch 1, step 1
    result = train(model, tiny_splits, TrainConfig(epochs=3, batch_size=4, progress=False, check_every=every))
    assert result.status == "diverged"
    assert result.message == "task loss became nan at epoch 1, step 1 (global step 4)"
    assert len(result.history) == 1 and result.best_epoch == 0 and result.steps == 4


def test_deferred_checks_give_the_same_history(tiny_splits: DatasetSplits, tiny_unet: Net) -> None:
    a = train(tiny_unet(), tiny_splits, replace(FAST, check_every=1))
    b = train(tiny_unet(), tiny_splits, replace(FAST, check_every=5))
    assert without_timing(a.history) == without_timing(b.history) and a.steps == b.steps
