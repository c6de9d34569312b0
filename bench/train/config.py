"""The training loop's face: what to run (:class:`TrainConfig`), what to plug in (:class:`TrainHooks`)
and what comes back (:class:`TrainResult`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor
from torch.optim import Optimizer

from bench.errors import BenchError

Optim = Literal["adam", "sgd"]
Device = Literal["cpu", "cuda"]
Status = Literal["ok", "diverged"]

#: Scoring batches are this many training batches by default (no gradients: they fit where a training batch does).
EVAL_BATCH_FACTOR = 4
#: Default steps between non-finite checks on CUDA, where each check is a host-device synchronisation.
CUDA_CHECK_EVERY = 50

#: History keys that hold wall-clock numbers: they differ between otherwise identical runs.
TIMING_KEYS = frozenset({"epoch_time_s", "eval_time_s", "images_per_s"})


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults follow the blog where it had one (Adam, batch 8, lr 1e-4).

    Attributes:
        loss: a :func:`bench.train.losses.create_loss` name; ``None`` picks "dice" (binary), "ce" otherwise.
        monitor: validation metric that selects the best checkpoint; ``None`` = "dice" ("accuracy" for
            classification). "dice_batch_mean" selects like the blog did.
        blog_eval_mode_bug: call ``model.train()`` only once before the first epoch, so BN stays in eval
            mode (frozen running stats) from epoch 1 on, as in every blog notebook.
        amp: mixed precision: float16 + GradScaler on CUDA, bfloat16 autocast on CPU.
        deterministic: deterministic kernels and no cuDNN autotuning (CPU runs are deterministic anyway).
        eval_train: report train-split metrics, scored once with the kept checkpoint's weights (the numbers
            the per-epoch pass gave at that epoch, without paying for it every epoch).
        eval_train_every_epoch: also score the train split after every evaluated epoch (the blog's per-epoch
            train Dice, in the history); the trained weights are the same either way.
        val_every: score the validation split every k epochs (and always after the last one); the best
            checkpoint is picked among the scored epochs.
        eval_batch_size: images per forward pass when scoring; ``None`` = ``EVAL_BATCH_FACTOR`` × batch_size.
            Must be a multiple of batch_size: metrics still see training-sized batches (the blog's
            ``dice_batch_mean`` is per batch), so only the speed changes.
        check_every: steps between non-finite loss checks (each check waits for the device); ``None`` = every
            step on the CPU (free there), every ``CUDA_CHECK_EVERY`` steps on CUDA. A NaN is still reported at
            the step where it appeared.
        compile: ``torch.compile`` the model for training (off by default: compiling costs more than small
            CPU runs gain).
        max_steps_per_epoch: smoke runs: cap training steps *and* evaluation batches per pass.
        keep: which epoch's weights the model ends with: "best" (validation) or "last" (structure learning
            must end on its sparsified last epoch, not on an earlier, denser one).
    """

    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-4
    optimizer: Optim = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    loss: str | None = None
    monitor: str | None = None
    seed: int = 42
    device: Device = "cpu"
    num_workers: int = 0
    blog_eval_mode_bug: bool = False
    amp: bool = False
    channels_last: bool = False
    deterministic: bool = False
    eval_train: bool = True
    eval_train_every_epoch: bool = False
    val_every: int = 1
    eval_batch_size: int | None = None
    check_every: int | None = None
    compile: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    keep: Literal["best", "last"] = "best"

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "val_every": self.val_every}
        for name in ("max_steps_per_epoch", "eval_batch_size", "check_every"):
            if getattr(self, name) is not None:
                positive[name] = getattr(self, name)
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise BenchError(f"train.{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise BenchError(f"train.lr must be a positive number, got {self.lr!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise BenchError(f"train.optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"train.device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise BenchError(
                f"train.weight_decay must be ≥ 0 and momentum in [0, 1), got {self.weight_decay!r}, {self.momentum!r}"
            )
        if self.keep not in ("best", "last"):
            raise BenchError(f"train.keep must be 'best' or 'last', got {self.keep!r}")
        if self.eval_batch_size is not None and self.eval_batch_size % self.batch_size:
            raise BenchError(f"train.eval_batch_size must be a multiple of train.batch_size ({self.batch_size}), "
                             f"got {self.eval_batch_size!r}")
        if self.num_workers < 0:
            raise BenchError(f"train.num_workers must be ≥ 0, got {self.num_workers!r}")


@dataclass(frozen=True)
class TrainHooks:
    """Optional callables through which a regularizer (MorphNet) joins training without the loop knowing it.

    Attributes:
        extra_loss: a scalar added to the task loss every step (e.g. ``λ·G``), computed outside autocast.
        after_backward: called after each backward pass, before the optimizer step, with the gradients unscaled
            (e.g. a pruner's sparse-training term added to the gradients).
        after_step: called with the optimizer after each optimizer step (e.g. a proximal shrink of γ).
        on_epoch_end: called with the 0-based epoch after evaluation; its numbers join that history row.
        param_groups: optimizer parameter groups (dicts with ``"params"`` and per-group options) used
            instead of ``model.parameters()``.
    """

    extra_loss: Callable[[], Tensor] | None = None
    after_backward: Callable[[], None] | None = None
    after_step: Callable[[Optimizer], None] | None = None
    on_epoch_end: Callable[[int], Mapping[str, float]] | None = None
    param_groups: Iterable[dict[str, Any]] | None = None


@dataclass(frozen=True)
class TrainResult:
    """Everything one run produced; metrics are those of the best-validation checkpoint.

    Attributes:
        history: one row per finished epoch: ``epoch``, ``train_loss`` (mean task loss per step),
            ``extra_loss``, ``epoch_time_s`` (training steps only), ``eval_time_s``, ``images_per_s``,
            ``lr``, ``train_<metric>`` / ``val_<metric>``, plus whatever ``on_epoch_end`` returned.
        best_epoch: 0-based epoch of the best checkpoint, −1 if no epoch finished.
        best_val: the monitored validation metric there (NaN if none).
        train_time_s: wall-clock of the whole epoch loop, evaluation included (like the blog's timings).
        status: "ok", or "diverged" when a loss turned NaN/inf; ``message`` then says where.
        steps: optimizer steps taken.
        per_image: split ("val", "test") → the best checkpoint's integer counts per image
            (:meth:`bench.train.metrics.SegmentationMetrics.per_image`).
    """

    history: list[dict[str, float]]
    best_epoch: int
    best_val: float
    monitor: str
    train_metrics: dict[str, float]
    val_metrics: dict[str, float]
    test_metrics: dict[str, float] | None
    train_time_s: float
    status: Status
    message: str
    seed: int
    steps: int
    config: TrainConfig = field(repr=False, default_factory=TrainConfig)
    per_image: dict[str, dict[str, list[Any]]] = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def eval_batch_size(config: TrainConfig) -> int:
    """Images per scoring forward pass (see :attr:`TrainConfig.eval_batch_size`)."""
    return config.eval_batch_size or EVAL_BATCH_FACTOR * config.batch_size


def check_every(config: TrainConfig) -> int:
    """Steps between non-finite checks (see :attr:`TrainConfig.check_every`)."""
    if config.check_every is not None:
        return config.check_every
    return CUDA_CHECK_EVERY if config.device == "cuda" else 1
