"""The question every MorphNet row must answer: is it better than scaling every layer by one multiplier? The
pruning baselines (:mod:`bench.methods.pruning`) answer it too.

For each case group with a learner's final stage (MorphNet's last Expanded, a baseline's Pruned) and a uniform
baseline at the same budget (the groups :func:`bench.report._groups.prepare` pairs), val and test quality (Dice,
or accuracy for a classifier) as a paired comparison over seeds and evaluation images
(:func:`bench.stats.compare`: Δ = M − uniform, its 95% interval, P(M > uniform), n = seeds × images). The verdict
follows the interval: "<method label> ahead" or "uniform ahead" only when it excludes 0 (≥ 2 seeds), else "no
difference shown"; one seed is "one seed". The costs that were not budgeted are shown for both sides (params,
FLOPs, measured batch-1 latency), and a model that costs more than :data:`COST_TOLERANCE` above the baseline in
FLOPs or latency is flagged.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from bench.methods import METHODS, baseline_stages, learner_final_stages
from bench.report._format import fmt_count, fmt_delta, fmt_p, fmt_sig, markdown_rows
from bench.report._groups import natural_key, prepare
from bench.stats import AHEAD, BEHIND, Comparison, compare, evaluations

#: A MorphNet model more than this share above its baseline's FLOPs or latency is flagged as costlier.
COST_TOLERANCE = 0.05
_LATENCY = re.compile(r"^latency\.(.+_b1)\.median_s$")


def _metric(rows: pd.DataFrame) -> str:
    """Dice where the group has any (segmentation), else accuracy (the CIFAR classifier)."""
    col = rows["metrics.val.dice"] if "metrics.val.dice" in rows else pd.Series(dtype=float)
    return "dice" if pd.to_numeric(col, errors="coerce").notna().any() else "accuracy"


def verdict(c: Comparison, learner: str = "MorphNet") -> str:
    """"MorphNet ahead"/"uniform ahead" (the learner named by its method's label) when the interval excludes 0,
    else the comparison's own label."""
    return {AHEAD: f"{learner} ahead", BEHIND: "uniform ahead"}.get(c.verdict, c.verdict)


def _learner(rows: pd.DataFrame) -> str:
    """The report label of the method behind the group's final model ("MorphNet", "L1-norm pruning")."""
    names = sorted(set(rows.get("config.morph.method", pd.Series(dtype=object)).dropna()) & set(METHODS))
    return " / ".join(METHODS.get(n).label for n in names) or "MorphNet"


def _mean(rows: pd.DataFrame, col: str) -> float:
    values = pd.to_numeric(rows[col], errors="coerce").dropna() if col in rows else pd.Series(dtype=float)
    return float(values.mean()) if len(values) else math.nan


def _latency_col(expand: pd.DataFrame, uniform: pd.DataFrame) -> str | None:
    both = [c for c in sorted(set(expand.columns) & set(uniform.columns)) if _LATENCY.match(c)
            and pd.to_numeric(expand[c], errors="coerce").notna().any()
            and pd.to_numeric(uniform[c], errors="coerce").notna().any()]
    return both[0] if both else None


def cost_flag(expand: pd.DataFrame, uniform: pd.DataFrame, latency: str | None) -> str:
    """"FLOPs +107%, latency +55%" for what MorphNet costs beyond the baseline (over the tolerance), else ""."""
    out = []
    for name, col in (("FLOPs", "flops"), ("latency", latency)):
        if col is None:
            continue
        m, u = _mean(expand, col), _mean(uniform, col)
        if math.isfinite(m) and math.isfinite(u) and u > 0 and m > u * (1 + COST_TOLERANCE):
            out.append(f"{name} +{100 * (m / u - 1):.0f}%")
    return ", ".join(out)


def _pair(expand: pd.DataFrame, uniform: pd.DataFrame, col: str, fmt) -> str:  # type: ignore[no-untyped-def]
    return f"{fmt(list(expand[col])) if col in expand else '–'} / {fmt(list(uniform[col])) if col in uniform else '–'}"


def _ms(values: list[float]) -> str:
    return fmt_sig([1e3 * v for v in pd.to_numeric(pd.Series(values), errors="coerce").dropna()])


def render(df: pd.DataFrame) -> str | None:
    """Markdown table (suite, group, metric, both sides' params/FLOPs/latency, val and test Δ with 95% CI,
    P(MorphNet > uniform), n, verdicts, cost flag) and a tally; None when no group has both an expanded
    MorphNet model and its uniform baseline."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    if ok.empty:
        return None
    p = prepare(ok)
    lines, tally = [], {}
    for (suite, group), rows in sorted(p.groupby(["suite", "group"]), key=lambda kv: (kv[0][0], natural_key(kv[0][1]))):
        expand, uniform = rows[rows["stage"].isin(learner_final_stages())], rows[rows["stage"].isin(baseline_stages())]
        if expand.empty or uniform.empty:
            continue
        iteration = expand["iteration"].fillna(0)  # a one-pass method (pruning) has no iteration
        expand = expand[iteration == iteration.max()]
        metric = _metric(rows)
        val = compare(evaluations(expand, "val", metric), evaluations(uniform, "val", metric), metric)
        test = compare(evaluations(expand, "test", metric), evaluations(uniform, "test", metric), metric)
        call = verdict(val, _learner(expand))
        latency = _latency_col(expand, uniform)
        flag = cost_flag(expand, uniform, latency)
        if flag and val.verdict == AHEAD:
            call += " (costlier)"
        tally[val.verdict] = tally.get(val.verdict, 0) + 1
        lat = _pair(expand, uniform, latency, _ms) if latency else "–"
        lines.append([suite, group, metric, _pair(expand, uniform, "params", fmt_count),
                      _pair(expand, uniform, "flops", fmt_count), lat, fmt_delta(val), fmt_p(val), fmt_delta(test),
                      fmt_p(test), str(val.n), call, flag or "–"])
    if not lines:
        return None
    head = ["Suite", "Case group", "Metric", "Params (M / U)", "FLOPs (M / U)", "Latency b1 ms (M / U)",
            "Δ val [95% CI]", "P(M > U) val", "Δ test [95% CI]", "P(M > U) test", "n (seeds×images)", "Verdict (val)",
            "M costs more"]
    n = sum(tally.values())
    counts = ", ".join(f"{label} {tally.get(key, 0)}" for key, label in (
        (AHEAD, "method ahead"), (BEHIND, "uniform ahead"), ("no difference shown", "no difference shown"),
        ("one seed", "one seed (no verdict)")))
    summary = (f"Each method's final model (M: MorphNet's last Expanded model, a pruning baseline's fine-tuned "
               f"Pruned model) against the uniform width multiplier (U) at the same budget, "
               f"trained with the same recipe: foreground Dice for segmentation, accuracy for classification. "
               f"Δ = M − U with its 95% paired bootstrap interval over seeds and evaluation images; "
               f"P(M > U) = share of paired seeds where M scored higher; a verdict needs ≥ 2 seeds and an "
               f"interval that excludes 0. Costs not budgeted: an M model more than "
               f"{COST_TOLERANCE:.0%} above the baseline's FLOPs or latency is flagged. Over {n} case groups: {counts}.")
    return "\n".join([summary, "", markdown_rows(head, lines)])
