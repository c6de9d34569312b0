"""Metrics pinned against confusion counts worked out by hand."""

from __future__ import annotations

import pytest
import torch

from bench.train.metrics import ClassificationMetrics, SegmentationMetrics, create_metrics, metric_names

ON, OFF = 5.0, -5.0  # logits for "building" and "background"


def binary(preds: list[list[float]]) -> torch.Tensor:
    return torch.tensor([preds]).unsqueeze(1)  # [1, 1, H, W]


def test_global_dice_differs_from_blog_batch_mean() -> None:
    m = SegmentationMetrics(2)
    # batch A: TP=1 → Dice 1;  batch B: TP=1, FP=2 → Dice 2/4
    m.update(binary([[ON, OFF]]), torch.tensor([[[1, 0]]]))
    m.update(binary([[ON, ON, ON]]), torch.tensor([[[1, 0, 0]]]))
    out = m.compute()
    assert out["dice"] == pytest.approx(2 * 2 / (2 * 2 + 2))  # TP=2, FP=2, FN=0 over the set
    assert out["dice_batch_mean"] == pytest.approx((1 + 0.5) / 2)
    assert out["iou"] == pytest.approx(2 / 4)
    assert out["accuracy"] == pytest.approx(3 / 5)


def test_ignored_pixels_and_empty_batch() -> None:
    m = SegmentationMetrics(2, ignore_index=255)
    # TP, FN, FP and one ignored pixel (predicted background, would be a FN)
    m.update(binary([[ON, OFF], [ON, OFF]]), torch.tensor([[[1, 1], [0, 255]]]))
    # nothing to find, nothing found: the blog's formula gives 0 for this batch
    m.update(binary([[OFF, OFF], [OFF, OFF]]), torch.zeros(1, 2, 2, dtype=torch.long))
    out = m.compute()
    assert out == pytest.approx({"accuracy": 5 / 7, "dice": 2 / 4, "dice_batch_mean": (2 / 4 + 0) / 2, "iou": 1 / 3})


def test_threshold_is_strictly_above_half() -> None:
    m = SegmentationMetrics(2, ignore_index=None)
    m.update(binary([[0.0, 1e-3]]), torch.tensor([[[1, 1]]]))  # sigmoid(0) = 0.5 is background
    assert m.compute()["dice"] == pytest.approx(2 * 1 / (2 * 1 + 1))


def test_all_background_set_scores_one() -> None:
    m = SegmentationMetrics(2)
    m.update(binary([[OFF, OFF]]), torch.tensor([[[0, 0]]]))
    assert m.compute() == pytest.approx({"accuracy": 1.0, "dice": 1.0, "dice_batch_mean": 0.0, "iou": 1.0})


def test_multiclass_means_over_present_foreground_classes() -> None:
    # 4 classes; predictions 0, 1, 2, 2 against 0, 1, 1, ignored. Class 3 never occurs: left out.
    logits = torch.full((1, 4, 1, 4), -1.0)
    for pixel, cls in enumerate([0, 1, 2, 2]):
        logits[0, cls, 0, pixel] = 1.0
    m = SegmentationMetrics(4, ignore_index=255)
    m.update(logits, torch.tensor([[[0, 1, 1, 255]]]))
    out = m.compute()
    # class 1: TP=1, FN=1 → Dice 2/3, IoU 1/2;  class 2: FP=1 → Dice 0, IoU 0
    assert out == pytest.approx({"accuracy": 2 / 3, "dice": 1 / 3, "dice_batch_mean": 1 / 3, "iou": 1 / 4,
                                 "dice_c1": 2 / 3, "dice_c2": 0.0})  # class 3: no pixel anywhere, no Dice


def test_classification_accuracy() -> None:
    m = create_metrics("classification", 3)
    assert isinstance(m, ClassificationMetrics)
    m.update(torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]]), torch.tensor([1, 2]))
    m.update(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([2]))
    assert m.compute() == {"accuracy": pytest.approx(2 / 3)}
    assert metric_names("classification") == ("accuracy",)
    assert set(metric_names("segmentation")) == set(SegmentationMetrics(2).compute())


def test_every_class_counts_when_there_is_no_background() -> None:
    """CamVid-like: class 0 is a real class. Hand-worked: 4 pixels, truth [0,0,1,2], prediction [0,1,1,2].
    class 0: tp 1, fn 1 → 2/3; class 1: tp 1, fp 1 → 2/3; class 2: tp 1 → 1."""
    logits = torch.zeros(1, 3, 1, 4)
    for pixel, cls in enumerate([0, 1, 1, 2]):
        logits[0, cls, 0, pixel] = 1.0
    target = torch.tensor([[[0, 0, 1, 2]]])
    every = SegmentationMetrics(3, ignore_index=None, background=None)
    every.update(logits, target)
    out = every.compute()
    assert out["dice"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert (out["dice_c0"], out["dice_c1"], out["dice_c2"]) == pytest.approx((2 / 3, 2 / 3, 1.0))
    assert every.per_image()["tp"] == [[1], [1], [1]]
    foreground = SegmentationMetrics(3, ignore_index=None)
    foreground.update(logits, target)
    assert foreground.compute()["dice"] == pytest.approx((2 / 3 + 1) / 2) and "dice_c0" not in foreground.compute()


def test_binary_metrics_have_no_per_class_keys() -> None:
    m = SegmentationMetrics(2, ignore_index=None, background=None)
    m.update(torch.tensor([[[[5.0, -5.0]]]]), torch.tensor([[[1, 1]]]))
    assert sorted(m.compute()) == ["accuracy", "dice", "dice_batch_mean", "iou"]
    assert m.compute()["dice"] == pytest.approx(2 / 3)
