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

from bench.stats import class_mean, class_scores
from bench.train.losses import NO_IGNORE, Task, is_binary

_BLOG_EPS = 1e-8


class MetricAccumulator(Protocol):
    """What the training loop needs from a metric: feed batches, read a flat dict."""

    def update(self, logits: Tensor, target: Tensor) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def per_image(self) -> dict[str, list]: ...


class SegmentationMetrics:
    """Running pixel counts for accuracy, global Dice/IoU and the blog's per-batch Dice.

    ``background``: the class left out of mean Dice/IoU (0: binary masks and sets with a background class);
    None counts every class, for sets such as CamVid whose class 0 (sky) is a class like any other. Sets with
    more than two classes also report each counted class's Dice as ``dice_c<k>``.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255, background: int | None = 0) -> None:
        self.num_classes = num_classes
        self.ignore_index = NO_IGNORE if ignore_index is None else ignore_index
        self.binary = is_binary(num_classes)
        n = 2 if self.binary else num_classes
        if background not in (None, 0):
            raise ValueError(f"background: expected 0 or None, got {background!r}")
        self.first = 1 if background == 0 or self.binary else 0  # the first class that counts
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
        k = self.first
        denom = 2 * tp[k:] + batch_fp[k:] + batch_fn[k:]
        scores = (2 * tp[k:] / (denom + _BLOG_EPS))[denom > 0]
        self.batch_dice.append(float(scores.mean()) if scores.numel() else 0.0)

    def compute(self) -> dict[str, float]:
        k = self.first
        tp, fp, fn = (x[k:].numpy() for x in (self.tp, self.fp, self.fn))
        out = {
            "accuracy": self.correct / self.total if self.total else 0.0,
            "dice": float(class_mean(tp, fp, fn, "dice")),
            "dice_batch_mean": sum(self.batch_dice) / len(self.batch_dice) if self.batch_dice else 0.0,
            "iou": float(class_mean(tp, fp, fn, "iou")),
        }
        if not self.binary:  # a class with no pixel anywhere has no Dice of its own (left out, as from the mean)
            per_class, present = class_scores(tp, fp, fn, "dice")
            out |= {f"dice_c{k + i}": float(v) for i, (v, p) in enumerate(zip(per_class, present)) if p}
        return out

    def per_image(self) -> dict[str, list]:
        """Integer counts per image, in data order: ``tp``/``fp``/``fn`` class-major (one list per counted
        class, 1…C−1 or 0…C−1 as in :meth:`compute`, one entry per image), ``correct`` and ``total`` valid
        pixels."""
        if not self._images:
            return {"tp": [], "fp": [], "fn": [], "correct": [], "total": []}
        confusion = torch.cat(self._images).long()  # [N, n, n], rows = truth, columns = prediction
        tp = confusion.diagonal(dim1=1, dim2=2)
        fp, fn = confusion.sum(1) - tp, confusion.sum(2) - tp
        k = self.first
        return {"tp": tp[:, k:].T.tolist(), "fp": fp[:, k:].T.tolist(), "fn": fn[:, k:].T.tolist(),
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


def create_metrics(
    task: Task | str, num_classes: int, ignore_index: int | None = 255, background: int | None = 0
) -> MetricAccumulator:
    """A fresh accumulator for one pass over a data set."""
    if task == "classification":
        return ClassificationMetrics(num_classes)
    return SegmentationMetrics(num_classes, ignore_index, background)


def metric_names(task: Task | str) -> tuple[str, ...]:
    """Keys of ``compute()`` for a task."""
    return ("accuracy",) if task == "classification" else ("accuracy", "dice", "dice_batch_mean", "iou")


def default_monitor(task: Task | str) -> str:
    """The validation metric that picks the best checkpoint: global Dice, or accuracy for classification."""
    return "accuracy" if task == "classification" else "dice"
