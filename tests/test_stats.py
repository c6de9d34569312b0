"""The statistics behind every verdict, pinned against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.stats import AHEAD, NO_DIFFERENCE, ONE_SEED, Counts, compare, interval, mean_ci, pooled
from bench.train.metrics import ClassificationMetrics, SegmentationMetrics


def counts(tp: list[int], fp: list[int], fn: list[int]) -> Counts:
    """One foreground class; accuracy counts are not used by these Dice cases."""
    n = len(tp)
    return Counts.from_record({"tp": [tp], "fp": [fp], "fn": [fn], "correct": [0] * n, "total": [1] * n})


def test_pooled_dice_of_a_subset_by_hand() -> None:
    c = counts(tp=[1, 3], fp=[1, 0], fn=[0, 1])
    assert pooled(c, "dice") == pytest.approx(2 * 4 / (2 * 4 + 1 + 1))  # TP 4, FP 1, FN 1 → 0.8
    assert pooled(c, "iou") == pytest.approx(4 / 6)
    # image 1 twice, image 2 not at all: TP 2, FP 2, FN 0 → 4 / 6
    assert pooled(c, "dice", np.array([[2, 0]]))[0] == pytest.approx(4 / 6)


def test_per_image_pooling_equals_whole_split_dice() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, 8, 8, generator=gen)
    target = torch.randint(0, 3, (6, 8, 8), generator=gen)
    target[0, :2] = 255  # ignored pixels count nowhere
    whole = SegmentationMetrics(3, ignore_index=255)
    for i in range(0, 6, 4):  # batches of 4 and 2
        whole.update(logits[i:i + 4], target[i:i + 4])
    c = Counts.from_record(whole.per_image())
    for metric in ("dice", "iou", "accuracy"):
        assert pooled(c, metric) == pytest.approx(whole.compute()[metric], abs=1e-12)
    # a subset (images 1, 3, 4) pooled from the counts = the metric run on those images alone
    part = SegmentationMetrics(3, ignore_index=255)
    part.update(logits[[1, 3, 4]], target[[1, 3, 4]])
    subset = pooled(c, "dice", np.array([[0, 1, 0, 1, 1, 0]]))[0]
    assert subset == pytest.approx(part.compute()["dice"], abs=1e-12)


def test_classifier_counts_give_its_accuracy() -> None:
    m = ClassificationMetrics(3)
    m.update(torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0]]), torch.tensor([0, 1, 2]))
    assert m.per_image() == {"correct": [1, 1, 0]}
    assert pooled(Counts.from_record(m.per_image()), "accuracy") == pytest.approx(2 / 3)


def test_interval_excludes_zero_when_every_image_of_every_seed_agrees() -> None:
    # A: Dice 1 on every image; B: TP 5, FP 5, FN 5 → Dice 10/20 = 0.5 on every image and every pool of them.
    # Every resample therefore gives Δ* = 0.5 exactly: the interval is [0.5, 0.5].
    a = {s: counts([10] * 4, [0] * 4, [0] * 4) for s in range(3)}
    b = {s: counts([5] * 4, [5] * 4, [5] * 4) for s in range(3)}
    r = compare(a, b, "dice")
    assert (r.delta, r.low, r.high) == pytest.approx((0.5, 0.5, 0.5))
    assert r.p_better == 1.0 and r.verdict == AHEAD and r.n == "3×4"


def test_interval_contains_zero_when_the_seeds_disagree() -> None:
    # Seed 0: A 1.0 vs B 0.5 (+0.5); seed 1: A 0.5 vs B 1.0 (−0.5), the same on every image. Drawing two seeds
    # with replacement gives Δ* = +0.5 (p ¼), 0 (p ½), −0.5 (p ¼): the 2.5th/97.5th percentiles are −0.5, +0.5.
    good, half = counts([10] * 4, [0] * 4, [0] * 4), counts([5] * 4, [5] * 4, [5] * 4)
    r = compare({0: good, 1: half}, {0: half, 1: good}, "dice")
    assert (r.delta, r.low, r.high) == pytest.approx((0.0, -0.5, 0.5))
    assert r.p_better == 0.5 and r.verdict == NO_DIFFERENCE


def test_probability_of_outperforming_on_paired_seeds() -> None:
    # Δ per seed: +0.1, 0 (a tie counts ½), −0.05, +0.05 → P(A > B) = (1 + ½ + 0 + 1) / 4
    a = {0: 0.8, 1: 0.7, 2: 0.6, 3: 0.9}
    b = {0: 0.7, 1: 0.7, 2: 0.65, 3: 0.85}
    r = compare(a, b, "dice")
    assert r.p_better == pytest.approx(0.625)
    assert r.delta == pytest.approx((0.1 + 0 - 0.05 + 0.05) / 4)
    assert r.n == "4×?"  # scalars only: seeds resampled, images unknown


def test_one_seed_is_never_a_verdict() -> None:
    a, b = {0: counts([10] * 4, [0] * 4, [0] * 4)}, {0: counts([5] * 4, [5] * 4, [5] * 4)}
    r = compare(a, b, "dice")
    assert r.low == pytest.approx(0.5) and r.verdict == ONE_SEED and math.isnan(r.p_better)
    scalar = compare({0: 0.8}, {0: 0.7}, "dice")
    assert scalar.verdict == ONE_SEED and math.isnan(scalar.low) and scalar.n == "1×?"


def test_one_arm_interval_over_images() -> None:
    # 4 images with Dice 1 (TP 1) and 4 with Dice 0 (FN 1). A resample with k good images has pooled Dice
    # 2k / (2k + 8 − k); k ~ Binomial(8, ½): P(k ≤ 0) = 1/256 < 2.5% < P(k ≤ 1) = 9/256, so the 2.5th
    # percentile is k = 1 (2/9) and, by symmetry, the 97.5th is k = 7 (14/15).
    c = counts([1] * 4 + [0] * 4, [0] * 8, [0] * 4 + [1] * 4)
    mean, low, high = interval({0: c}, "dice")
    assert mean == pytest.approx(2 * 4 / (2 * 4 + 4))
    assert (low, high) == pytest.approx((2 / 9, 14 / 15))


def test_mean_ci_is_the_student_t_interval() -> None:
    mean, half, n = mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-6)  # t(0.975, 2) = 4.3027 from a table
    assert math.isnan(mean_ci([0.5])[1])


def test_evaluations_prefer_counts_and_fall_back_to_the_scalar() -> None:
    import pandas as pd

    from bench.stats import evaluations

    counts = {"tp": [[1, 3]], "fp": [[1, 0]], "fn": [[0, 1]], "correct": [5, 6], "total": [8, 8]}
    rows = pd.DataFrame([{"seed": 0, "per_image": {"val": counts}, "metrics.val.dice": 0.8},
                         {"seed": 1, "per_image": float("nan"), "metrics.val.dice": 0.7},  # an old record
                         {"seed": 2, "per_image": float("nan"), "metrics.val.dice": float("nan")}])
    got = evaluations(rows, "val", "dice")
    assert set(got) == {0, 1} and got[1] == 0.7
    assert isinstance(got[0], Counts) and pooled(got[0], "accuracy") == pytest.approx(11 / 16)
    # a mix of counts and scalars resamples seeds only, and says so: n = seeds × ?
    assert compare(got, {0: 0.75, 1: 0.65}, "dice").n == "2×?"
