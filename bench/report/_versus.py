"""The question every MorphNet row must answer: is it better than scaling every layer by one multiplier?

For each case group with a final Expanded stage and a uniform baseline at the same budget (the groups
:func:`bench.report._groups.prepare` pairs), val and test quality (Dice, or accuracy for a classifier) side by
side, averaged over seeds. Ties are called within ``TIE``: the quick profile's val splits are small, and one
seed's spread is about that size.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.methods import baseline_stages, learner_final_stages
from bench.report._format import fmt_count, mean_std, pm
from bench.report._groups import natural_key, prepare

TIE = 0.01


def _mean(rows: pd.DataFrame, col: str) -> tuple[float, float, int]:
    return mean_std(list(rows[col])) if col in rows else (math.nan, math.nan, 0)


def _cell(stat: tuple[float, float, int]) -> str:
    return pm(stat[0], stat[1], 3)  # "–" without values, no ± for one seed


def _metric(rows: pd.DataFrame) -> str:
    """Dice where the group has any (segmentation), else accuracy (the CIFAR classifier)."""
    col = rows["metrics.val.dice"] if "metrics.val.dice" in rows else pd.Series(dtype=float)
    return "dice" if pd.to_numeric(col, errors="coerce").notna().any() else "accuracy"


def verdict(delta: float) -> str:
    if not math.isfinite(delta):
        return "–"
    return "tie" if abs(delta) < TIE else ("MorphNet" if delta > 0 else "uniform")


def render(df: pd.DataFrame) -> str | None:
    """Markdown table (suite, group, metric, resource, both costs, val/test metric, Δ, verdict) and a tally; None when no
    group has both an expanded MorphNet model and its uniform baseline."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    if ok.empty:
        return None
    p = prepare(ok)
    lines, tally = [], {"MorphNet": 0, "uniform": 0, "tie": 0, "–": 0}
    for (suite, group), rows in sorted(p.groupby(["suite", "group"]), key=lambda kv: (kv[0][0], natural_key(kv[0][1]))):
        expand, uniform = rows[rows["stage"].isin(learner_final_stages())], rows[rows["stage"].isin(baseline_stages())]
        if expand.empty or uniform.empty:
            continue
        expand = expand[expand["iteration"] == expand["iteration"].max()]
        resource = str(expand["config.morph.resource"].iloc[0]) if "config.morph.resource" in expand else "params"
        cost = "flops" if resource == "flops" else "params"
        metric = _metric(rows)
        val_m, val_u = _mean(expand, f"metrics.val.{metric}"), _mean(uniform, f"metrics.val.{metric}")
        test_m, test_u = _mean(expand, f"metrics.test.{metric}"), _mean(uniform, f"metrics.test.{metric}")
        delta = val_m[0] - val_u[0]
        call = verdict(delta)
        tally[call] += 1
        test_delta = test_m[0] - test_u[0]
        lines.append(
            f"| {suite} | {group} | {metric} | {resource} | {fmt_count(list(expand[cost]))} | {fmt_count(list(uniform[cost]))} "
            f"| {_cell(val_m)} | {_cell(val_u)} | {delta:+.3f} | {_cell(test_m)} | {_cell(test_u)} "
            f"| {test_delta:+.3f} | {call} |".replace("+nan", "–")
        )
    if not lines:
        return None
    head = ("| Suite | Case group | Metric | Cost | MorphNet cost | Uniform cost | MorphNet val | Uniform val | Δ val "
            "| MorphNet test | Uniform test | Δ test | Better (val) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    n = sum(tally.values())
    summary = (f"MorphNet's last Expanded model against the uniform width multiplier at the same budget, trained with "
               f"the same recipe: foreground Dice for segmentation, accuracy for classification (Δ = MorphNet − uniform; "
               f"ties within {TIE}). Over {n} case groups: MorphNet "
               f"ahead in {tally['MorphNet']}, uniform ahead in {tally['uniform']}, tied in {tally['tie']}.")
    return "\n".join([summary, "", head, *lines])
