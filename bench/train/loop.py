"""The training loop shared by every stage (plain, regularised, shrunk, expanded) and both tasks.

Per epoch: ``model.train()`` (only before the first epoch with ``blog_eval_mode_bug``), the steps, then
(every ``val_every`` epochs and after the last) validation in eval mode, plus the train split when
``eval_train_every_epoch``; the best validation checkpoint is kept on the CPU and loaded back at the end, and
the train split (unless scored every epoch) and the test set are scored with it. Scoring runs in batches of
``eval_batch_size`` and never touches the global RNG, so how often it runs does not change the trained weights.
A NaN/inf loss ends the run with ``status="diverged"`` instead of an exception, so a sweep records it and goes
on; losses stay on the device between checks (every ``check_every`` steps), and the message still names the
step where the loss first went non-finite.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from bench.errors import BenchError
from bench.train._device import autocast, cudnn_autotune, grad_scaler, move_images, resolve_device
from bench.train.config import TrainConfig, TrainHooks, TrainResult, check_every, eval_batch_size
from bench.train.determinism import deterministic_algorithms, loader_generator, seed_worker, seeded
from bench.train.evaluate import evaluate
from bench.train.losses import LossFn, create_loss, default_loss
from bench.train.metrics import MetricAccumulator, create_metrics, default_monitor, metric_names
from bench.train.progress import EpochProgress

if TYPE_CHECKING:
    from bench.data.splits import DatasetSplits

__all__ = ["TrainConfig", "TrainHooks", "TrainResult", "train"]


@dataclass
class _EpochStats:
    steps: int = 0
    images: int = 0
    task_loss: float = 0.0
    extra_loss: float = 0.0
    diverged: str = ""


@dataclass
class _Pending:
    """Steps whose losses are still on the device: checked (one host-device sync) every ``check_every`` steps."""

    first_step: int = 0
    global_base: int = 0  # the run's step count before this epoch: a step's global number is base + its step
    task: list[Tensor] = field(default_factory=list)
    extra: list[Tensor] = field(default_factory=list)
    images: list[int] = field(default_factory=list)

    def settle(self, stats: _EpochStats, epoch: int, bar: EpochProgress) -> bool:
        """Move the pending steps into ``stats``; False (and ``stats.diverged`` set) at the first non-finite one."""
        tasks = torch.stack(self.task).tolist() if self.task else []
        extras = torch.stack(self.extra).tolist() if self.extra else [0.0] * len(tasks)
        for i, (task_value, extra_value, images) in enumerate(zip(tasks, extras, self.images)):
            for what, value in (("task loss", task_value), ("extra loss", extra_value)):
                if not math.isfinite(value):
                    stats.diverged = (f"{what} became {value} at epoch {epoch}, step {self.first_step + i} "
                                      f"(global step {self.global_base + self.first_step + i})")
                    return False
            stats.steps += 1
            stats.images += images
            stats.task_loss += task_value
            stats.extra_loss += extra_value
            bar.advance(task_value)
        self.first_step += len(tasks)
        self.task, self.extra, self.images = [], [], []
        return True


def _loader(data: Dataset[Any], config: TrainConfig, device: torch.device, *, shuffle: bool,
            batch_size: int | None = None) -> DataLoader[Any]:
    """Every loader draws from its own seeded generator, never the global RNG (which dropout and init use)."""
    return DataLoader(
        data, batch_size=batch_size or config.batch_size, shuffle=shuffle, num_workers=config.num_workers,
        pin_memory=device.type == "cuda", worker_init_fn=seed_worker, generator=loader_generator(config.seed),
        persistent_workers=config.num_workers > 0,
    )


def _eval_loader(data: Dataset[Any], config: TrainConfig, device: torch.device) -> DataLoader[Any]:
    """Scoring batches of ``eval_batch_size``; a smoke run's cap keeps the images the capped training-sized
    batches held."""
    if config.max_steps_per_epoch is not None:
        data = Subset(data, range(min(len(data), config.max_steps_per_epoch * config.batch_size)))  # type: ignore[arg-type]
    return _loader(data, config, device, shuffle=False, batch_size=eval_batch_size(config))


class _TrainSizedBatches:
    """Feeds a metric accumulator training-sized slices of each (larger) scoring batch, so per-batch metrics
    (the blog's ``dice_batch_mean``) keep their meaning; everything else passes through."""

    def __init__(self, inner: MetricAccumulator, batch_size: int) -> None:
        self.inner, self.batch_size = inner, batch_size

    def update(self, logits: Tensor, target: Tensor) -> None:
        for part, part_target in zip(logits.split(self.batch_size), target.split(self.batch_size)):
            self.inner.update(part, part_target)

    def compute(self) -> dict[str, float]:
        return self.inner.compute()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _optimizer(model: nn.Module, config: TrainConfig, hooks: TrainHooks) -> torch.optim.Optimizer:
    params: Any = list(hooks.param_groups) if hooks.param_groups is not None else model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def _check(splits: DatasetSplits, monitor: str) -> None:
    if splits.task not in ("segmentation", "classification"):
        raise BenchError(f"task must be 'segmentation' or 'classification', got {splits.task!r}")
    if len(splits.train) == 0 or len(splits.val) == 0:  # type: ignore[arg-type]
        raise BenchError("training needs non-empty train and val sets")
    if monitor not in metric_names(splits.task):
        known = ", ".join(metric_names(splits.task))
        raise BenchError(f"train.monitor '{monitor}' is not a {splits.task} metric (known: {known})")


def _train_epoch(
    model: nn.Module, loader: DataLoader[Any], loss_fn: LossFn, optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler, config: TrainConfig, hooks: TrainHooks, device: torch.device,
    epoch: int, global_step: int, bar: EpochProgress,
) -> _EpochStats:
    """One pass over the training set; stops at the first non-finite loss it sees and says where it appeared.

    Losses are checked every ``check_every`` steps, before the optimizer step of the step that fills the batch
    of checks (so with 1, as on the CPU, a non-finite loss is never stepped on).
    """
    stats, pending, every = _EpochStats(), _Pending(global_base=global_step), check_every(config)
    for step, (x, y) in enumerate(loader):
        if config.max_steps_per_epoch is not None and step >= config.max_steps_per_epoch:
            break
        x, y = move_images(x, device, config.channels_last), y.to(device, non_blocking=True)
        with autocast(device, config.amp):
            logits = model(x)
        task_loss = loss_fn(logits.float(), y)
        extra = hooks.extra_loss() if hooks.extra_loss is not None else None
        pending.task.append(task_loss.detach())
        if extra is not None:
            pending.extra.append(extra.detach())
        pending.images.append(x.shape[0])
        if len(pending.task) >= every and not pending.settle(stats, epoch, bar):
            return stats
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(task_loss if extra is None else task_loss + extra).backward()
        if hooks.after_backward is not None:
            scaler.unscale_(optimizer)  # the hook sees true gradients (a no-op without AMP)
            hooks.after_backward()
        scaler.step(optimizer)
        scaler.update()
        if hooks.after_step is not None:
            hooks.after_step(optimizer)
    pending.settle(stats, epoch, bar)
    return stats


def _scored(epoch: int, config: TrainConfig) -> bool:
    """Whether validation runs after ``epoch``: every ``val_every`` epochs and after the last."""
    return (epoch + 1) % config.val_every == 0 or epoch == config.epochs - 1


def train(
    model: nn.Module, splits: DatasetSplits, config: TrainConfig | None = None, *, hooks: TrainHooks | None = None
) -> TrainResult:
    """Train ``model`` in place on ``splits`` and return its history and best-checkpoint metrics.

    Seed the model's construction yourself; ``config.seed`` covers shuffling, dropout and the like. The
    model ends on ``config.device`` holding the best-validation weights; global RNG states and
    determinism flags are restored on return.

    Raises:
        BenchError: bad configuration (empty split, unknown loss or monitor, CUDA asked for but absent).
    """
    config = config or TrainConfig()
    hooks = hooks or TrainHooks()
    monitor = config.monitor or default_monitor(splits.task)
    _check(splits, monitor)
    device = resolve_device(config.device)
    loss_fn = create_loss(config.loss or default_loss(splits.num_classes, splits.task), splits.num_classes,
                          splits.ignore_index, task=splits.task)
    eval_loaders = {"train": _eval_loader(splits.train, config, device) if config.eval_train else None,
                     "val": _eval_loader(splits.val, config, device)}
    per_epoch = {"train": config.eval_train and config.eval_train_every_epoch, "val": True}
    unscored = {name: math.nan for name in metric_names(splits.task)}

    per_image: dict[str, dict[str, list[Any]]] = {}  # split → its last evaluation's counts per image

    def metrics_on(loader: DataLoader[Any], split: str = "") -> dict[str, float]:
        metrics = create_metrics(splits.task, splits.num_classes, splits.ignore_index, splits.background)
        out = evaluate(model, loader, _TrainSizedBatches(metrics, config.batch_size),  # type: ignore[arg-type]
                       device=device, channels_last=config.channels_last, amp=config.amp)
        if split:
            per_image[split] = metrics.per_image()
        return out

    with (seeded(config.seed), deterministic_algorithms(config.deterministic),
          cudnn_autotune(device, config.deterministic)):
        model.to(device, memory_format=torch.channels_last if config.channels_last else torch.preserve_format)
        stepped = torch.compile(model) if config.compile else model
        optimizer = _optimizer(model, config, hooks)
        scaler = grad_scaler(device, config.amp)
        train_loader = _loader(splits.train, config, device, shuffle=True)
        steps_per_epoch = min(len(train_loader), config.max_steps_per_epoch or len(train_loader))
        history: list[dict[str, float]] = []
        best: _Best | None = None
        message, steps, start = "", 0, time.perf_counter()
        model.train()
        with EpochProgress(config.epochs, config.progress) as bar:
            for epoch in range(config.epochs):
                if not config.blog_eval_mode_bug:
                    model.train()
                bar.start_epoch(epoch, steps_per_epoch)
                t0 = time.perf_counter()
                stats = _train_epoch(stepped, train_loader, loss_fn, optimizer, scaler, config, hooks, device,
                                     epoch, steps, bar)
                steps += stats.steps
                if stats.diverged:
                    message = stats.diverged
                    break
                t1 = time.perf_counter()
                scored = _scored(epoch, config)
                scores = {name: metrics_on(loader, name) if scored and per_epoch[name] else dict(unscored)
                          for name, loader in eval_loaders.items() if loader is not None and per_epoch[name]}
                if config.blog_eval_mode_bug:
                    model.eval()  # scoring left BN in eval mode in the blog; keep it so on unscored epochs too
                val_m = scores["val"]
                row: dict[str, float] = {
                    "epoch": epoch,
                    "train_loss": stats.task_loss / max(stats.steps, 1),
                    "extra_loss": stats.extra_loss / max(stats.steps, 1),
                    "lr": optimizer.param_groups[0]["lr"],
                    "epoch_time_s": t1 - t0,
                    "eval_time_s": time.perf_counter() - t1,
                    "images_per_s": stats.images / (t1 - t0) if t1 > t0 else 0.0,
                    **{f"train_{k}": v for k, v in scores.get("train", {}).items()},
                    **{f"val_{k}": v for k, v in val_m.items()},
                }
                if hooks.on_epoch_end is not None:
                    added = {k: float(v) for k, v in hooks.on_epoch_end(epoch).items()}
                    if clash := sorted(set(added) & set(row)):
                        raise BenchError(f"on_epoch_end returned keys the loop already records: {clash}")
                    row.update(added)
                history.append(row)
                bar.end_epoch(row, monitor)
                if scored and (config.keep == "last" or best is None or val_m[monitor] > best.score):
                    best = _Best(epoch, val_m[monitor], cpu_state(model), scores.get("train", {}), val_m,
                                 per_image["val"])
        test_m: dict[str, float] | None = None
        if best is not None:
            model.load_state_dict(best.state)
            if eval_loaders["train"] is not None and not per_epoch["train"]:
                best.train_metrics = metrics_on(eval_loaders["train"])  # the kept weights, scored once
        train_time_s = time.perf_counter() - start
        if best is not None and splits.test is not None and len(splits.test) > 0:  # type: ignore[arg-type]
            test_m = metrics_on(_eval_loader(splits.test, config, device), "test")
    return TrainResult(
        history=history, best_epoch=best.epoch if best else -1, best_val=best.score if best else math.nan,
        monitor=monitor, train_metrics=best.train_metrics if best else {}, val_metrics=best.val_metrics if best else {},
        test_metrics=test_m, train_time_s=train_time_s, status="diverged" if message else "ok",
        message=message, seed=config.seed, steps=steps, config=config,
        per_image={"val": best.val_per_image if best else {},
                   **({"test": per_image["test"]} if test_m is not None else {})},
    )


@dataclass
class _Best:
    """The kept checkpoint: its epoch, monitored score, weights (on the CPU), metrics and val counts per image."""

    epoch: int
    score: float
    state: dict[str, Tensor]
    train_metrics: dict[str, float]
    val_metrics: dict[str, float]
    val_per_image: dict[str, list[Any]]


def cpu_state(model: nn.Module) -> dict[str, Tensor]:
    """A deep copy of the weights on the CPU, so the best checkpoint survives further training."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
