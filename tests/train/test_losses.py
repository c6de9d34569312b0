"""Losses pinned against numbers worked out by hand on 2×2 masks."""

from __future__ import annotations

import math

import pytest
import torch

from bench.errors import BenchError
from bench.train.losses import create_loss, default_loss, loss_names


def logit(p: float) -> float:
    return math.log(p / (1 - p))


# One image, 2×2: probabilities p and targets t (255 = ignored).
P = [[0.8, 0.6], [0.3, 0.9]]
T = [[1, 0], [1, 255]]


def binary_batch() -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.tensor([[[logit(p) for p in row] for row in P]]).unsqueeze(1)  # [1, 1, 2, 2]
    return logits, torch.tensor([T])


def test_dice_by_hand() -> None:
    # valid pixels: (0.8, 1), (0.6, 0), (0.3, 1); I = 0.8 + 0.3 = 1.1; Σp + Σt = 1.7 + 2 = 3.7
    logits, target = binary_batch()
    assert create_loss("dice", 2, 255)(logits, target).item() == pytest.approx(1 - 2 * 1.1 / 3.7, abs=1e-6)
    assert create_loss("blog_dice", 2, 255)(logits, target).item() == pytest.approx(1 - 1.1 / 3.7, abs=1e-6)


def test_dice_sums_over_the_whole_batch() -> None:
    # Image A: p=1 where t=1 (I=1, card=2); image B: p=0.5, t=0 (I=0, card=0.5). Batch: 1 − 2·1/2.5.
    logits = torch.tensor([[[[20.0]]], [[[0.0]]]])
    target = torch.tensor([[[1]], [[0]]])
    assert create_loss("dice", 2)(logits, target).item() == pytest.approx(1 - 2 / 2.5, abs=1e-6)


def test_bce_and_bce_dice_by_hand() -> None:
    logits, target = binary_batch()
    bce = -(math.log(0.8) + math.log(1 - 0.6) + math.log(0.3)) / 3
    assert create_loss("bce", 2, 255)(logits, target).item() == pytest.approx(bce, abs=1e-6)
    both = create_loss("bce_dice", 2, 255)(logits, target).item()
    assert both == pytest.approx(bce + 1 - 2 * 1.1 / 3.7, abs=1e-6)


def test_no_ignore_index_counts_every_pixel() -> None:
    logits, _ = binary_batch()
    target = torch.tensor([[[1, 0], [1, 1]]])
    # I = 0.8 + 0.3 + 0.9 = 2.0; Σp + Σt = 2.6 + 3 = 5.6
    assert create_loss("dice", 2, None)(logits, target).item() == pytest.approx(1 - 4 / 5.6, abs=1e-6)


def test_multiclass_ce_and_dice_by_hand() -> None:
    # Two pixels, three classes; softmax of (0, 0, ln 2) is (1/4, 1/4, 1/2); the third pixel is ignored.
    row = [0.0, 0.0, math.log(2.0)]
    logits = torch.tensor([row, row, row]).T.reshape(1, 3, 1, 3)
    target = torch.tensor([[[2, 0, 255]]])
    ce = -(math.log(0.5) + math.log(0.25)) / 2
    assert create_loss("ce", 3, 255)(logits, target).item() == pytest.approx(ce, abs=1e-6)
    # class 0: I = 1/4, card = 1/2 + 1 → 1/3; class 1: I = 0, card = 1/2 → 0; class 2: I = 1/2, card = 2 → 1/2
    dice = 1 - (2 * 0.25 / 1.5 + 0 + 2 * 0.5 / 2) / 3
    assert create_loss("dice", 3, 255)(logits, target).item() == pytest.approx(dice, abs=1e-6)
    assert create_loss("ce_dice", 3, 255)(logits, target).item() == pytest.approx(ce + dice, abs=1e-6)


def test_classification_cross_entropy() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])
    loss = create_loss("ce", 2, None, task="classification")
    assert loss(logits, torch.tensor([1])).item() == pytest.approx(-math.log(0.75), abs=1e-6)


def test_names_and_defaults() -> None:
    assert loss_names(2) == ["bce", "bce_dice", "blog_dice", "dice"]
    assert loss_names(6) == ["ce", "ce_dice", "dice"]
    assert (default_loss(2), default_loss(6), default_loss(10, "classification")) == ("dice", "ce", "ce")


def test_unknown_or_wrong_kind_is_one_line() -> None:
    with pytest.raises(BenchError, match=r"unknown binary loss 'dise'; did you mean 'dice'\?"):
        create_loss("dise", 2)
    with pytest.raises(BenchError, match="unknown 6-class loss 'blog_dice'"):
        create_loss("blog_dice", 6)
    with pytest.raises(BenchError, match="expect 1 logit channel, got 2"):
        create_loss("dice", 2)(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
