"""Fixed number formats for report cells, so that the same results always give the same bytes.

Why one module: every table formats mean ± 95% interval the same way (Student-t over seeds,
:func:`bench.stats.mean_ci`; no ± for one run), every paired comparison as Δ [95% CI], P(A > B), n, and the
decimals are chosen from the mean's magnitude so that the interval is shown at the same precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.stats import Comparison, mean_ci

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
    """``"0.842 ± 0.013"``; ``"0.842"`` when there is no spread or it is exactly 0 (every seed agrees, as
    parameter counts usually do); ``"–"`` when there is no mean."""
    if not math.isfinite(mean):
        return "–"
    text = f"{mean:.{decimals}f}"
    if math.isfinite(std) and std != 0:
        text += f" ± {std:.{decimals}f}"
    return f"{text} {unit}" if unit else text


def fmt_fixed(values: Sequence[float | int | None], decimals: int = 3) -> str:
    """Mean ± 95% interval half-width over seeds at a fixed number of decimals (accuracy, Dice)."""
    mean, half, _ = mean_ci(finite(values))
    return pm(mean, half, decimals)


def fmt_sig(values: Sequence[float | int | None], digits: int = 3) -> str:
    """Mean ± 95% interval half-width with ``digits`` significant digits of the mean (times, latencies)."""
    mean, half, _ = mean_ci(finite(values))
    return pm(mean, half, sig_decimals(mean, digits))


def fmt_count(values: Sequence[float | int | None]) -> str:
    """Counts (parameters, FLOPs) with an SI prefix chosen by the mean: ``"1.94 M"``, ``"7.63 ± 0.12 k"``."""
    mean, std, _ = mean_ci(finite(values))
    if not math.isfinite(mean):
        return "–"
    for scale, prefix in _SI:
        if abs(mean) >= scale:
            return pm(mean / scale, std / scale, 2, prefix)
    return pm(mean, std, 0)


def fmt_ratio(value: float) -> str:
    """``"0.512×"`` (three decimals); ``"–"`` for NaN or infinity."""
    return f"{value:.3f}×" if math.isfinite(value) else "–"


def fmt_delta(c: Comparison, decimals: int = 3) -> str:
    """``"+0.012 [-0.010, +0.030]"``: Δ and its 95% interval; ``"+0.012"`` when there is no interval (one seed
    without per-image counts); ``"–"`` without a Δ."""
    if not math.isfinite(c.delta):
        return "–"
    text = f"{c.delta:+.{decimals}f}"
    if math.isfinite(c.low) and math.isfinite(c.high):
        text += f" [{c.low:+.{decimals}f}, {c.high:+.{decimals}f}]"
    return text


def fmt_p(c: Comparison) -> str:
    """P(A > B) to two decimals; ``"–"`` for fewer than two seeds."""
    return f"{c.p_better:.2f}" if math.isfinite(c.p_better) else "–"


def fmt_comparison(c: Comparison, decimals: int = 3) -> str:
    """One line for prose: ``"Δ +0.012 [95% CI -0.010, +0.030], P(A > B) 0.67, n 3×128 (seeds×images)"``."""
    ci = f" [95% CI {c.low:+.{decimals}f}, {c.high:+.{decimals}f}]" if math.isfinite(c.low) else " (no CI)"
    delta = f"{c.delta:+.{decimals}f}" if math.isfinite(c.delta) else "–"
    return f"Δ {delta}{ci}, P(A > B) {fmt_p(c)}, n {c.n} (seeds×images)"


def markdown_table(df: pd.DataFrame) -> str:
    """A pipe table by tabulate (through pandas), cells as given (no number re-parsing), so the bytes depend on the
    strings only: every table of the reports goes through here."""
    return df.to_markdown(index=False, disable_numparse=True)


def markdown_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """:func:`markdown_table` of string rows under ``header``."""
    return markdown_table(pd.DataFrame([list(r) for r in rows], columns=list(header)))
