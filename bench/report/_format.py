"""Fixed number formats for report cells, so that the same results always give the same bytes.

Why one module: every table formats mean ± std the same way (sample std, ddof=1; no ± for one run), and the
decimals are chosen from the mean's magnitude so that the std is shown at the same precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def finite(values: Sequence[float | int | None]) -> list[float]:
    """The values that are real numbers (None and NaN dropped)."""
    out = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def mean_std(values: Sequence[float | int | None]) -> tuple[float, float, int]:
    """Mean, sample std (ddof=1; NaN for one value) and count of the finite values."""
    vals = finite(values)
    if not vals:
        return math.nan, math.nan, 0
    arr = np.asarray(vals, dtype=float)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else math.nan
    return float(arr.mean()), std, len(arr)


def sig_decimals(value: float, digits: int = 3, most: int = 4) -> int:
    """Decimals that show ``digits`` significant digits of ``value`` (0 for big numbers, at most ``most``)."""
    if not math.isfinite(value) or value == 0:
        return min(2, most)
    return int(min(most, max(0, digits - 1 - math.floor(math.log10(abs(value))))))


def pm(mean: float, std: float, decimals: int, unit: str = "") -> str:
    """``"0.842 ± 0.013"``; ``"0.842"`` when there is no std or it is exactly 0 (every seed agrees, as
    parameter counts usually do); ``"–"`` when there is no mean."""
    if not math.isfinite(mean):
        return "–"
    text = f"{mean:.{decimals}f}"
    if math.isfinite(std) and std != 0:
        text += f" ± {std:.{decimals}f}"
    return f"{text} {unit}" if unit else text


def fmt_fixed(values: Sequence[float | int | None], decimals: int = 3) -> str:
    """Mean ± std at a fixed number of decimals (accuracy, Dice)."""
    mean, std, _ = mean_std(values)
    return pm(mean, std, decimals)


def fmt_sig(values: Sequence[float | int | None], digits: int = 3) -> str:
    """Mean ± std with ``digits`` significant digits of the mean (times, latencies)."""
    mean, std, _ = mean_std(values)
    return pm(mean, std, sig_decimals(mean, digits))


def fmt_count(values: Sequence[float | int | None]) -> str:
    """Counts (parameters, FLOPs) with an SI prefix chosen by the mean: ``"1.94 M"``, ``"7.63 ± 0.12 k"``."""
    mean, std, _ = mean_std(values)
    if not math.isfinite(mean):
        return "–"
    for scale, prefix in _SI:
        if abs(mean) >= scale:
            return pm(mean / scale, std / scale, 2, prefix)
    return pm(mean, std, 0)


def fmt_ratio(value: float) -> str:
    """``"0.512×"`` (three decimals); ``"–"`` for NaN or infinity."""
    return f"{value:.3f}×" if math.isfinite(value) else "–"
