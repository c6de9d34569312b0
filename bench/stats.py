"""How sure a result is: 95% intervals over seeds, and paired comparisons with a stratified bootstrap.

Why a small function of our own and not ``rliable``/``scipy.stats.bootstrap``: the statistic is a *pooled* Dice
(TP/FP/FN summed over the resampled images, then the ratio), resampled in two levels: seeds, and within each
drawn seed its evaluation images, with the same draws for both arms of a comparison (paired). rliable's
``StratifiedBootstrap`` resamples runs within tasks, one level; ``scipy.stats.bootstrap`` resamples rows of one
array. The two-level scheme here is the hierarchical (cluster) bootstrap: draw S seeds with replacement from the
S paired seeds; for each draw, draw that seed's N images with replacement; the statistic of a resample is the
mean over its S draws of the pooled metric; Δ* = stat(A) − stat(B). The 95% interval is the 2.5th and 97.5th
percentile of Δ* over :data:`REPS` resamples (percentile method), from a fixed generator, so the same records
always give the same interval.

Rules (the report's conventions state them):
- P(A > B) is Bouthillier et al.'s probability of outperforming on paired runs: the share of paired seeds where A
  scored higher (a tie counts ½). It needs two seeds or more.
- A verdict says "ahead" or "behind" only when the interval excludes 0 and there are ≥ 2 seeds; otherwise "no
  difference shown". One seed is "one seed", never a verdict (its interval, from images alone, is shown).
- Without per-image counts (records written before they were kept), only seeds are resampled.
- Cells over seeds: mean ± half-width of the 95% Student-t interval, t₀.₉₇₅,ₙ₋₁ · s / √n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Bootstrap resamples per interval, and the generator seed that makes every interval reproducible.
REPS = 2000
RNG_SEED = 0
LEVEL = 0.95
AHEAD, BEHIND, NO_DIFFERENCE, ONE_SEED, NO_DATA = "ahead", "behind", "no difference shown", "one seed", "–"
#: Cap on resampled image weights held at once (rows × images), so large test sets resample in chunks.
_CHUNK = 2_000_000


@dataclass(frozen=True)
class Counts:
    """One evaluation's integer counts per image (a record's ``per_image[split]``).

    Attributes:
        tp, fp, fn: [classes, images] foreground counts (empty for a classifier).
        correct, total: [images] correct and valid pixels (a classifier: 0/1 and 1).
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    correct: np.ndarray
    total: np.ndarray

    @property
    def images(self) -> int:
        return int(self.correct.shape[0])

    @classmethod
    def from_record(cls, counts: Mapping[str, Any]) -> Counts:
        correct = np.asarray(counts.get("correct", []), dtype=np.int64)
        total = np.asarray(counts["total"], dtype=np.int64) if "total" in counts else np.ones_like(correct)
        empty = np.zeros((0, correct.shape[0]), dtype=np.int64)

        def classes(key: str) -> np.ndarray:
            return np.asarray(counts[key], dtype=np.int64).reshape(-1, correct.shape[0]) if key in counts else empty

        return cls(classes("tp"), classes("fp"), classes("fn"), correct, total)


def class_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Dice (``2·TP / (2·TP + FP + FN)``) or IoU (``TP / (TP + FP + FN)``) per class from pooled counts
    ([..., classes]), and which classes are present (any TP, FP or FN); an absent class scores 0 here."""
    tp, fp, fn = (np.asarray(x, dtype=float) for x in (tp, fp, fn))
    num, denom = (2 * tp, 2 * tp + fp + fn) if metric == "dice" else (tp, tp + fp + fn)
    present = (tp + fp + fn) > 0
    return np.divide(num, denom, out=np.zeros_like(num), where=present), present


def class_mean(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, metric: str) -> np.ndarray:
    """The mean of :func:`class_scores` over the present classes ([...]); 1.0 where no class is present (nothing
    to find, nothing found). The one rule for every pooled Dice/IoU, the training metric's included."""
    score, present = class_scores(tp, fp, fn, metric)
    n = present.sum(-1)
    return np.where(n > 0, score.sum(-1) / np.maximum(n, 1), 1.0)


def pooled(counts: Counts, metric: str, weights: np.ndarray | None = None) -> np.ndarray | float:
    """Dice, IoU or accuracy pooled over images, as :meth:`bench.train.metrics.SegmentationMetrics.compute`.

    Args:
        counts: the per-image counts.
        metric: "dice", "iou" or "accuracy".
        weights: [rows, images] multiplicities (a resample per row, or 0/1 for a subset); None = every image once.

    Returns:
        A float without ``weights``, else one value per row. A class with no TP, FP or FN in the pool is left out
        of the class mean; with none left the score is 1.0, as in the metric itself.
    """
    w = np.ones((1, counts.images)) if weights is None else np.atleast_2d(weights).astype(float)
    if metric == "accuracy":
        total = w @ counts.total
        out = np.divide(w @ counts.correct, total, out=np.zeros_like(total), where=total > 0)
    elif metric in ("dice", "iou"):
        out = class_mean(*(w @ x.T for x in (counts.tp, counts.fp, counts.fn)), metric)  # [rows, classes] each
    else:
        raise ValueError(f"metric must be 'dice', 'iou' or 'accuracy', got {metric!r}")
    return float(out[0]) if weights is None else out


Evaluation = Counts | float
"""Per seed: the counts per image, or only the record's scalar when it has none."""


def _value(e: Evaluation, metric: str) -> float:
    return float(pooled(e, metric)) if isinstance(e, Counts) else float(e)


def _image_weights(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """[rows, n] multiplicities of n images drawn with replacement, per row."""
    draws = rng.integers(0, n, size=(rows, n))
    return np.bincount((np.arange(rows)[:, None] * n + draws).ravel(), minlength=rows * n).reshape(rows, n)


def _resample(arms: Sequence[Sequence[Evaluation]], metric: str, reps: int, rng: np.random.Generator,
              images: bool) -> np.ndarray:
    """[arms, reps] bootstrap statistics with shared draws: S seeds drawn with replacement, then (``images``)
    each drawn seed's images drawn with replacement; the statistic is the mean over the S draws."""
    n_seeds = len(arms[0])
    seed_draw = rng.integers(0, n_seeds, size=(reps, n_seeds)) if n_seeds > 1 else np.zeros((reps, 1), int)
    values = np.zeros((len(arms), reps, n_seeds))
    for s in range(n_seeds):
        where = seed_draw == s
        k = int(where.sum())
        if not k:
            continue
        if not images:
            for a, arm in enumerate(arms):
                values[a][where] = _value(arm[s], metric)
            continue
        n = arms[0][s].images  # type: ignore[union-attr]
        drawn = np.empty((len(arms), k))
        step = max(1, _CHUNK // n)
        for start in range(0, k, step):
            w = _image_weights(rng, min(step, k - start), n)
            for a, arm in enumerate(arms):
                drawn[a, start:start + len(w)] = pooled(arm[s], metric, w)  # type: ignore[arg-type]
        for a in range(len(arms)):
            values[a][where] = drawn[a]
    return values.mean(axis=2)


def _per_image(arms: Sequence[Sequence[Evaluation]]) -> bool:
    """Images can be resampled when every seed of every arm has counts, over the same number of images."""
    for s in range(len(arms[0])):
        es = [arm[s] for arm in arms]
        if not all(isinstance(e, Counts) and e.images > 0 for e in es):
            return False
        if len({e.images for e in es}) != 1:  # type: ignore[union-attr]
            return False
    return True


@dataclass(frozen=True)
class Comparison:
    """A − B on paired seeds (and images).

    Attributes:
        delta: mean over paired seeds of A's metric minus B's.
        low, high: the 95% bootstrap interval of ``delta`` (NaN when it cannot be computed).
        p_better: P(A > B) over paired seeds, ties ½ (NaN for fewer than two seeds).
        seeds: paired seeds; images: evaluation images per seed (None when the records have no counts).
    """

    delta: float
    low: float
    high: float
    p_better: float
    seeds: int
    images: int | None

    @property
    def verdict(self) -> str:
        """"ahead"/"behind" only when ≥ 2 seeds and the interval excludes 0; "one seed" for one."""
        if self.seeds == 0 or not math.isfinite(self.delta):
            return NO_DATA
        if self.seeds == 1:
            return ONE_SEED
        if self.low > 0:
            return AHEAD
        if self.high < 0:
            return BEHIND
        return NO_DIFFERENCE

    @property
    def n(self) -> str:
        """``"3×128"``: seeds × images per seed (``?`` when the records kept no per-image counts)."""
        return f"{self.seeds}×{self.images if self.images is not None else '?'}"


def compare(a: Mapping[Any, Evaluation], b: Mapping[Any, Evaluation], metric: str, *, reps: int = REPS,
            seed: int = RNG_SEED) -> Comparison:
    """A − B on the seeds both have: Δ, 95% paired stratified-bootstrap interval, P(A > B) and n.

    Args:
        a, b: seed → :class:`Counts` (or the scalar metric when the record has no counts).
        metric: "dice", "iou" or "accuracy".
        reps: bootstrap resamples.
        seed: the generator's seed (fixed: same records, same interval).
    """
    seeds = sorted(set(a) & set(b), key=str)
    arms = [[a[s] for s in seeds], [b[s] for s in seeds]]
    if not seeds:
        return Comparison(math.nan, math.nan, math.nan, math.nan, 0, None)
    diffs = np.array([_value(x, metric) - _value(y, metric) for x, y in zip(*arms)])
    images = _per_image(arms)
    n_images = min(e.images for e in arms[0]) if images else None  # type: ignore[union-attr]
    p = float(np.mean((diffs > 0) + 0.5 * (diffs == 0))) if len(seeds) > 1 else math.nan
    if len(seeds) == 1 and not images:
        return Comparison(float(diffs.mean()), math.nan, math.nan, p, 1, None)
    stats = _resample(arms, metric, reps, np.random.default_rng(seed), images)
    low, high = np.percentile(stats[0] - stats[1], [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return Comparison(float(diffs.mean()), float(low), float(high), p, len(seeds), n_images)


def interval(a: Mapping[Any, Evaluation], metric: str, *, reps: int = REPS, seed: int = RNG_SEED
             ) -> tuple[float, float, float]:
    """(mean over seeds, low, high): the stratified-bootstrap 95% interval of one arm's metric (seeds and, where
    counts exist, images); NaN bounds for one seed without counts."""
    seeds = sorted(a, key=str)
    arms = [[a[s] for s in seeds]]
    if not seeds:
        return math.nan, math.nan, math.nan
    mean = float(np.mean([_value(e, metric) for e in arms[0]]))
    images = _per_image(arms)
    if len(seeds) == 1 and not images:
        return mean, math.nan, math.nan
    stats = _resample(arms, metric, reps, np.random.default_rng(seed), images)[0]
    low, high = np.percentile(stats, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return mean, float(low), float(high)


def mean_ci(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95% Student-t interval over the values, count); NaN half-width for one value.

    Half-width = t₀.₉₇₅,ₙ₋₁ · s / √n with the sample std s (ddof 1), e.g. 2.776 · s / √5 for five seeds."""
    from scipy.stats import t

    arr = np.asarray([v for v in values if v is not None and math.isfinite(float(v))], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan, 0
    if arr.size == 1:
        return float(arr[0]), math.nan, 1
    half = float(t.ppf(0.5 + LEVEL / 2, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return float(arr.mean()), half, int(arr.size)


def evaluations(rows: Any, split: str, metric: str) -> dict[Any, Evaluation]:
    """seed → :class:`Counts` (or the scalar metric) from a report frame's rows (columns ``seed``,
    ``per_image``, ``metrics.<split>.<metric>``); seeds without either are left out. Repeated seeds (the same
    case loaded twice) keep the first."""
    out: dict[Any, Evaluation] = {}
    col = f"metrics.{split}.{metric}"
    for _, row in rows.iterrows():
        seed = row.get("seed")
        if seed is None or seed in out or (isinstance(seed, float) and math.isnan(seed)):
            continue
        per_image = row.get("per_image")
        if isinstance(per_image, Mapping) and isinstance(per_image.get(split), Mapping) and per_image[split]:
            out[int(seed)] = Counts.from_record(per_image[split])
            continue
        value = row.get(col)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            out[int(seed)] = float(value)
    return out
