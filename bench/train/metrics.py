"""Evaluation metrics accumulated over a data set: pixel accuracy, Dice (two ways) and IoU.

Binary masks (one logit channel) are thresholded at ``sigmoid > 0.5`` as in the blog's ``check_accuracy``;
multi-class masks take the argmax. Pixels equal to ``ignore_index`` count nowhere.

- ``accuracy``: correct / valid pixels over the whole set (global, as the blog).
- ``dice``, ``iou``: from TP/FP/FN summed over the whole set, then averaged over the foreground classes
  (binary: class 1; multi-class: classes 1…C−1). A class with no predicted and no true pixel anywhere is
  left out of the mean; if none is left, the score is 1.0 (nothing to find, nothing found).
- ``dice_batch_mean``: the blog's number, ``2·Σ(pred·y) / (Σ(pred + y) + 1e-8)`` per **batch**, averaged
  over batches. It depends on the batch size and order; an empty batch scores 0 as in the blog.

Besides these, each accumulator keeps integer counts **per image** (:meth:`per_image`): foreground TP/FP/FN per
class and correct/total pixels (or 0/1 per classified image), so that pooled Dice, IoU and accuracy can be
recomputed for any subset or resample of the images (:func:`bench.stats.pooled`) without running the model again.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from bench.train.losses import NO_IGNORE, Task, is_binary

_BLOG_EPS = 1e-8


class MetricAccumulator(Protocol):
    """What the training loop needs from a metric: feed batches, read a flat dict."""

    def update(self, logits: Tensor, target: Tensor) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def per_image(self) -> dict[str, list]: ...


class SegmentationMetrics:
    """Running pixel counts for accuracy, global Dice/IoU and the blog's per-batch Dice."""

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = NO_IGNORE if ignore_index is None else ignore_index
        self.binary = is_binary(num_classes)
        n = 2 if self.binary else num_classes
        self.tp = torch.zeros(n, dtype=torch.float64)
        self.fp = torch.zeros(n, dtype=torch.float64)
        self.fn = torch.zeros(n, dtype=torch.float64)
        self.correct = 0.0
        self.total = 0.0
        self.batch_dice: list[float] = []
        self._images: list[Tensor] = []  # per batch: [B, n, n] confusion counts of each image

    def predict(self, logits: Tensor) -> Tensor:
        """Class index per pixel: ``sigmoid > 0.5`` for one channel, argmax otherwise."""
        if self.binary:
            x = logits[:, 0] if logits.dim() == 4 else logits
            return (torch.sigmoid(x.float()) > 0.5).long()
        return logits.argmax(dim=1)

    @torch.no_grad()
    def update(self, logits: Tensor, target: Tensor) -> None:
        pred = self.predict(logits)
        valid = target != self.ignore_index
        n = self.tp.numel()
        batch = target.shape[0]
        image = torch.arange(batch, device=target.device).view(-1, *([1] * (target.dim() - 1))).expand_as(target)
        # One bincount gives every image's confusion matrix of this batch; their sum is the batch's.
        codes = (image * n * n + target * n + pred)[valid]
        per_image = torch.bincount(codes, minlength=batch * n * n).reshape(batch, n, n).cpu()
        self._images.append(per_image)
        confusion = per_image.sum(0).double()
        tp = confusion.diagonal()
        batch_fp = confusion.sum(0) - tp
        batch_fn = confusion.sum(1) - tp
        self.tp += tp
        self.fp += batch_fp
        self.fn += batch_fn
        self.correct += float(tp.sum())
        self.total += float(confusion.sum())
        denom = 2 * tp[1:] + batch_fp[1:] + batch_fn[1:]
        scores = (2 * tp[1:] / (denom + _BLOG_EPS))[denom > 0]
        self.batch_dice.append(float(scores.mean()) if scores.numel() else 0.0)

    def compute(self) -> dict[str, float]:
        tp, fp, fn = self.tp[1:], self.fp[1:], self.fn[1:]
        present = (tp + fp + fn) > 0
        dice = (2 * tp / (2 * tp + fp + fn))[present]
        iou = (tp / (tp + fp + fn))[present]
        return {
            "accuracy": self.correct / self.total if self.total else 0.0,
            "dice": float(dice.mean()) if dice.numel() else 1.0,
            "dice_batch_mean": sum(self.batch_dice) / len(self.batch_dice) if self.batch_dice else 0.0,
            "iou": float(iou.mean()) if iou.numel() else 1.0,
        }

    def per_image(self) -> dict[str, list]:
        """Integer counts per image, in data order: ``tp``/``fp``/``fn`` class-major (one list per foreground
        class 1…C−1 as in :meth:`compute`, one entry per image), ``correct`` and ``total`` valid pixels."""
        if not self._images:
            return {"tp": [], "fp": [], "fn": [], "correct": [], "total": []}
        confusion = torch.cat(self._images).long()  # [N, n, n], rows = truth, columns = prediction
        tp = confusion.diagonal(dim1=1, dim2=2)
        fp, fn = confusion.sum(1) - tp, confusion.sum(2) - tp
        return {"tp": tp[:, 1:].T.tolist(), "fp": fp[:, 1:].T.tolist(), "fn": fn[:, 1:].T.tolist(),
                "correct": tp.sum(1).tolist(), "total": confusion.sum((1, 2)).tolist()}


class ClassificationMetrics:
    """Top-1 accuracy over the whole set."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.correct = 0
        self.total = 0
        self._hits: list[Tensor] = []

    @torch.no_grad()
    def update(self, logits: Tensor, target: Tensor) -> None:
        hits = logits.argmax(dim=1) == target
        self._hits.append(hits.flatten().cpu())
        self.correct += int(hits.sum())
        self.total += target.numel()

    def compute(self) -> dict[str, float]:
        return {"accuracy": self.correct / self.total if self.total else 0.0}

    def per_image(self) -> dict[str, list]:
        """``correct``: 1 or 0 per image, in data order (every image counts once, so no ``total``)."""
        return {"correct": torch.cat(self._hits).long().tolist() if self._hits else []}


def create_metrics(task: Task | str, num_classes: int, ignore_index: int | None = 255) -> MetricAccumulator:
    """A fresh accumulator for one pass over a data set."""
    if task == "classification":
        return ClassificationMetrics(num_classes)
    return SegmentationMetrics(num_classes, ignore_index)


def metric_names(task: Task | str) -> tuple[str, ...]:
    """Keys of ``compute()`` for a task."""
    return ("accuracy",) if task == "classification" else ("accuracy", "dice", "dice_batch_mean", "iou")


def default_monitor(task: Task | str) -> str:
    """The validation metric that picks the best checkpoint: global Dice, or accuracy for classification."""
    return "accuracy" if task == "classification" else "dice"
