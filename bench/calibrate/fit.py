"""Fitting a latency model to timings: non-negative least squares on relative error.

Every timing is a sum over the kinds it exercises: ``t ≈ Σ_kind Σ_name c[kind][name] · x[kind][name]`` where
``x[kind]["const"]`` counts calls of that kind. A probe exercises one kind, a whole model many (its
:func:`morph.resources.calibrated.graph_features`); both are rows of one linear system, so micro-benchmarks
and end-to-end timings can be fitted together. All coefficients are ≥ 0 (a negative throughput cost has no
meaning and would make the penalty reward width). Rows are divided by the measured time, so the fit minimises
Σ((pred − t)/t)², the error the ±10 % criterion counts, instead of letting the slowest samples dominate;
columns are scaled to unit maximum so that FLOP counts (~1e9) and call counts (~1) are equally well
conditioned. scipy.optimize.nnls does the solving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

Terms = Mapping[str, Mapping[str, float]]
"""kind → coefficient name → multiplier (``const``: number of calls)."""
ORDER = ("const", "flop", "in_elem", "out_elem", "weight")


@dataclass(frozen=True)
class KindFit:
    """Coefficients of one kind and how well the fit reproduces the samples that time that kind alone."""

    coefficients: dict[str, float]
    n: int
    mape: float
    within_10: float


def fit_joint(rows: Sequence[Terms], times: Sequence[float],
              weights: Sequence[float] | None = None) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Fit every (kind, name) coefficient that any row uses; returns the coefficients and the predictions.

    Args:
        rows: per timing, its multipliers per kind and name.
        times: measured seconds, > 0.
        weights: relative weight of each row's relative error (default 1).

    Raises:
        ValueError: no rows, or a time that is not positive.
    """
    t = np.asarray(times, dtype=float)
    if t.size == 0 or t.size != len(rows) or not np.all(t > 0):
        raise ValueError("need one time per row, at least one, every time > 0")
    cols = sorted({(k, n) for r in rows for k, names in r.items() for n in names},
                  key=lambda kn: (kn[0], ORDER.index(kn[1]) if kn[1] in ORDER else len(ORDER), kn[1]))
    index = {c: i for i, c in enumerate(cols)}
    x = np.zeros((t.size, len(cols)))
    for i, r in enumerate(rows):
        for k, names in r.items():
            for n, v in names.items():
                x[i, index[(k, n)]] += float(v)
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
    solution, _ = nnls((x / scale) * (w / t)[:, None], w)
    coef = solution / scale
    out: dict[str, dict[str, float]] = {}
    for (k, n), c in zip(cols, coef):
        out.setdefault(k, {})[n] = float(c)
    return out, x @ coef


def fit_kind(features: Sequence[Mapping[str, float]], times: Sequence[float], names: Sequence[str]) -> KindFit:
    """Fit one kind alone: ``t = const + Σ coefficients[f] · features[f]`` over ``names``, all ≥ 0."""
    rows = [{"k": {"const": 1.0, **{n: float(f.get(n, 0.0)) for n in names}}} for f in features]
    coefs, pred = fit_joint(rows, times)
    return KindFit(coefs["k"], len(rows), *error_stats(pred, times))


def error_stats(predicted: Sequence[float] | np.ndarray, measured: Sequence[float]) -> tuple[float, float]:
    """(MAPE, share within ±10 %)."""
    m = np.asarray(measured, dtype=float)
    rel = np.abs(np.asarray(predicted, dtype=float) - m) / m
    return float(rel.mean()), float((rel <= 0.1).mean())
