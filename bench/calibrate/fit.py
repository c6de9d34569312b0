"""Fitting a latency model to timings: non-negative least squares on relative error, per kind.

For the samples of one kind, ``t ≈ const + Σ_f c_f · x_f`` with every ``c ≥ 0`` (a negative throughput cost has
no meaning and would make the penalty reward width). Rows are divided by the measured time, so the fit
minimises Σ((pred − t)/t)², the error the ±10 % criterion counts, instead of letting the slowest samples
dominate; columns are scaled to unit maximum so that FLOP counts (~1e9) and the constant (1) are equally well
conditioned. scipy.optimize.nnls does the solving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls


@dataclass(frozen=True)
class KindFit:
    """Coefficients of one kind (``const`` plus one per feature) and how well they fit their own samples."""

    coefficients: dict[str, float]
    n: int
    mape: float
    within_10: float


def fit_kind(features: Sequence[Mapping[str, float]], times: Sequence[float], names: Sequence[str]) -> KindFit:
    """Fit ``t = const + Σ coefficients[f] · features[f]`` over ``names``, all coefficients ≥ 0.

    Args:
        features: one mapping per sample (missing names count as 0).
        times: measured seconds, > 0.
        names: the features to use (the columns besides the constant).

    Raises:
        ValueError: no samples, or a time that is not positive.
    """
    t = np.asarray(times, dtype=float)
    if t.size == 0 or not np.all(t > 0):
        raise ValueError("need at least one sample, with every time > 0")
    x = np.array([[1.0, *(float(f.get(n, 0.0)) for n in names)] for f in features])
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    solution, _ = nnls((x / scale) / t[:, None], np.ones_like(t))
    coef = solution / scale
    pred = x @ coef
    rel = np.abs(pred - t) / t
    return KindFit(dict(zip(("const", *names), map(float, coef))), int(t.size), float(rel.mean()),
                   float((rel <= 0.1).mean()))
