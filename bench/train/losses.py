"""Training losses by name: the Dice family for binary masks, cross-entropy for classes.

Every loss takes ``(logits, target)`` and returns a scalar. Segmentation targets are int64 class indices
``[N, H, W]``; pixels equal to ``ignore_index`` count nowhere. Binary losses expect one logit channel
(``[N, 1, H, W]``, or ``[N, H, W]``); multi-class losses ``[N, C, H, W]`` (or ``[N, C]`` for
classification). Dice sums run over the **whole batch**, not per image, as in the blog's ``DiceLoss``
(blog-code-facts §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.errors import BenchError
from morph.registry import did_you_mean

LossFn = Callable[[Tensor, Tensor], Tensor]
Task = Literal["segmentation", "classification"]
_Builder = Callable[[int, int], LossFn]

#: Stands for "ignore nothing" (torch's own cross-entropy default): no class index is negative.
NO_IGNORE = -100
_EPS = 1e-7  # the blog's clamp on the Dice denominator
_BINARY: dict[str, _Builder] = {}
_MULTICLASS: dict[str, _Builder] = {}


def _register(table: dict[str, _Builder], name: str) -> Callable[[_Builder], _Builder]:
    def decorator(builder: _Builder) -> _Builder:
        table[name] = builder
        return builder

    return decorator


def _binary_parts(logits: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """Flat logits, float 0/1 targets and the valid-pixel mask of a one-channel prediction."""
    if logits.dim() == target.dim() + 1:
        if logits.shape[1] != 1:
            raise BenchError(f"binary losses expect 1 logit channel, got {logits.shape[1]}")
        logits = logits[:, 0]
    valid = target != ignore_index
    return logits.float(), (target == 1).float(), valid.float()


def soft_dice_terms(logits: Tensor, target: Tensor, ignore_index: int = 255) -> tuple[Tensor, Tensor]:
    """``(I, card)`` of a binary soft Dice: ``I = Σ p·t``, ``card = Σ p + Σ t`` over valid pixels."""
    x, t, valid = _binary_parts(logits, target, ignore_index)
    p = torch.sigmoid(x) * valid
    return (p * t).sum(), (p + t * valid).sum()


def dice_loss(logits: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """Standard soft Dice loss ``1 − 2I/(Σp + Σt)``; 0 is a perfect mask."""
    inter, card = soft_dice_terms(logits, target, ignore_index)
    return 1 - 2 * inter / card.clamp_min(_EPS)


def blog_dice_loss(logits: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """The blog's ``1 − I/(Σp + Σt)`` (the factor 2 is missing): ``1 − Dice/2``, range [0.5, 1]."""
    inter, card = soft_dice_terms(logits, target, ignore_index)
    return 1 - inter / card.clamp_min(_EPS)


def bce_loss(logits: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """Binary cross-entropy on logits, averaged over valid pixels."""
    x, t, valid = _binary_parts(logits, target, ignore_index)
    per_pixel = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    return (per_pixel * valid).sum() / valid.sum().clamp_min(1)


def multiclass_soft_dice_loss(logits: Tensor, target: Tensor, ignore_index: int = 255) -> Tensor:
    """``1 −`` the mean over all C classes of the soft Dice of softmax probabilities (batch sums)."""
    num_classes = logits.shape[1]
    valid = target != ignore_index
    probs = torch.softmax(logits.float(), dim=1) * valid.unsqueeze(1)
    onehot = F.one_hot(torch.where(valid, target, 0), num_classes).movedim(-1, 1).float() * valid.unsqueeze(1)
    dims = [0, *range(2, logits.dim())]
    inter = (probs * onehot).sum(dims)
    card = (probs + onehot).sum(dims)
    return 1 - (2 * inter / card.clamp_min(_EPS)).mean()


@_register(_BINARY, "dice")
def _dice(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: dice_loss(x, y, ignore_index)


@_register(_BINARY, "blog_dice")
def _blog_dice(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: blog_dice_loss(x, y, ignore_index)


@_register(_BINARY, "bce")
def _bce(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: bce_loss(x, y, ignore_index)


@_register(_BINARY, "bce_dice")
def _bce_dice(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: bce_loss(x, y, ignore_index) + dice_loss(x, y, ignore_index)


@_register(_MULTICLASS, "ce")
def _ce(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: F.cross_entropy(x.float(), y, ignore_index=ignore_index)


@_register(_MULTICLASS, "dice")
def _mc_dice(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: multiclass_soft_dice_loss(x, y, ignore_index)


@_register(_MULTICLASS, "ce_dice")
def _ce_dice(num_classes: int, ignore_index: int) -> LossFn:
    return lambda x, y: (
        F.cross_entropy(x.float(), y, ignore_index=ignore_index) + multiclass_soft_dice_loss(x, y, ignore_index)
    )


def is_binary(num_classes: int) -> bool:
    """Two classes (or one) are segmented with a single logit channel through a sigmoid."""
    return num_classes <= 2


def _table(num_classes: int, task: Task | str) -> dict[str, _Builder]:
    if task == "classification":
        return {"ce": _ce}
    return _BINARY if is_binary(num_classes) else _MULTICLASS


def loss_names(num_classes: int = 2, task: Task | str = "segmentation") -> list[str]:
    """Loss names valid for this task and number of classes."""
    return sorted(_table(num_classes, task))


def default_loss(num_classes: int, task: Task | str = "segmentation") -> str:
    """Standard Dice for binary masks, cross-entropy otherwise."""
    return "dice" if task == "segmentation" and is_binary(num_classes) else "ce"


def create_loss(
    name: str, num_classes: int, ignore_index: int | None = 255, *, task: Task | str = "segmentation"
) -> LossFn:
    """Build a loss by name, e.g. ``create_loss("blog_dice", 2)`` or ``create_loss("ce_dice", 6)``.

    Classification knows only ``"ce"`` (logits ``[N, C]``, labels ``[N]``). ``ignore_index=None``: no
    pixel is ignored.

    Raises:
        BenchError: the name is unknown, or only defined for another kind (binary, multi-class, classification).
    """
    table = _table(num_classes, task)
    if name in table:
        return table[name](num_classes, NO_IGNORE if ignore_index is None else ignore_index)
    kind = task if task == "classification" else "binary" if is_binary(num_classes) else f"{num_classes}-class"
    raise BenchError(f"unknown {kind} loss '{name}'{did_you_mean(name, table)} (known: {', '.join(sorted(table))})")
