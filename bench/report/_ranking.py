"""Which method to use at a budget: every method run at the same (suite, profile, resource, budget), ranked.

For each budget where at least three methods delivered a final model (MorphNet's last Expanded, a pruning
baseline's Pruned, the uniform multiplier), the methods are ranked by mean val quality over seeds, each with its
95% stratified-bootstrap interval (:func:`bench.stats.interval`: seeds and, within them, evaluation images), its
measured cost, and the leader is compared with the runner-up (:func:`bench.stats.compare`). The leader is called
the leader only when that paired interval excludes 0; otherwise the budget's verdict is "no difference shown"
between the two (or "one seed").
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bench.methods import METHODS
from bench.report._format import fmt_count, fmt_delta, fmt_p, fmt_sig, markdown_rows
from bench.report._groups import natural_key
from bench.stats import AHEAD, compare, evaluations, interval

#: A budget is ranked when at least this many methods reached it.
MIN_METHODS = 3


def _metric(rows: pd.DataFrame) -> str:
    col = rows["metrics.val.dice"] if "metrics.val.dice" in rows else pd.Series(dtype=float)
    return "dice" if pd.to_numeric(col, errors="coerce").notna().any() else "accuracy"


def _final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Each case's deliverable: the records of its method's final stage (MorphNet: the last iteration)."""
    finals = {name: METHODS.get(name).final_stage for name in METHODS}
    method = df.get("config.morph.method", pd.Series("", index=df.index)).fillna("").astype(str)
    keep = [finals.get(m) == s for m, s in zip(method, df["stage"])]
    rows = df[keep].copy()
    rows["_iteration"] = pd.to_numeric(rows["iteration"], errors="coerce").fillna(0)
    last = rows.groupby("case_id")["_iteration"].transform("max")
    return rows[rows["_iteration"] == last]


def _profile(extra: Any) -> str:
    return str(extra.get("profile", "")) if isinstance(extra, dict) else ""


def _name(rows: pd.DataFrame) -> str:
    """The method's report label (the case group column says which variant)."""
    method = str(rows["config.morph.method"].iloc[0])
    return METHODS.get(method).label if method in METHODS else method


def _mean(rows: pd.DataFrame, col: str) -> float:
    values = pd.to_numeric(rows[col], errors="coerce").dropna() if col in rows else pd.Series(dtype=float)
    return float(values.mean()) if len(values) else math.nan


def _budgets(df: pd.DataFrame) -> list[tuple[tuple[Any, ...], dict[str, pd.DataFrame]]]:
    """((suite, profile, resource, budget), {case group: its final rows}) for every budget ≥ MIN_METHODS reached."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    if ok.empty or "config.morph.method" not in ok or "config.morph.budget" not in ok:
        return []
    rows = _final_rows(ok)
    if rows.empty:
        return []
    rows = rows.assign(_profile=[_profile(e) for e in rows["extra"]] if "extra" in rows else "",
                       _budget=pd.to_numeric(rows["config.morph.budget"], errors="coerce"))
    rows = rows[rows["_budget"].notna()]
    out = []
    keys = ["suite", "_profile", "config.morph.resource", "_budget"]
    for where, at in sorted(rows.groupby(keys), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], -kv[0][3])):
        # one arm per case group (its label without the seed): the same settings over seeds
        groups: dict[str, pd.DataFrame] = {}
        for _, case in at.groupby("label"):
            key = str(case["label"].iloc[0]).rsplit(",seed=", 1)[0]
            groups[key] = pd.concat([groups[key], case]) if key in groups else case
        if len(groups) >= MIN_METHODS:
            out.append((where, groups))
    return out


def front_points(df: pd.DataFrame) -> pd.DataFrame:
    """One point per method and budget of every ranked budget: its deliverable's mean params and FLOPs, and
    its val quality with the 95% stratified-bootstrap interval. ``arm`` is the method's label, with its source
    when the method ran with several (MorphNet on γ and on FiGS gates)."""
    cols = ["suite", "profile", "arm", "resource", "budget", "params", "flops", "metric", "val", "low", "high",
            "seeds"]
    budgets = _budgets(df)
    by_suite: dict[str, list[pd.DataFrame]] = {}
    for (suite, *_), groups in budgets:
        by_suite.setdefault(suite, []).extend(groups.values())
    several = {suite: _several_sources(groups) for suite, groups in by_suite.items()}
    points = []
    for (suite, profile, resource, budget), groups in budgets:
        metric = _metric(pd.concat(list(groups.values())))
        for group in groups.values():
            mean, low, high = interval(evaluations(group, "val", metric), metric)
            points.append([suite, profile, _arm(group, several[suite]), resource, budget, _mean(group, "params"),
                           _mean(group, "flops"), metric, mean, low, high, group["seed"].nunique()])
    return pd.DataFrame(points, columns=cols)


def _sources(group: pd.DataFrame) -> set[str]:
    col = group["config.morph.source"] if "config.morph.source" in group else pd.Series(dtype=object)
    return {str(v) for v in col.dropna()}


def _several_sources(groups: list[pd.DataFrame]) -> set[str]:
    """The methods that ran with more than one source among ``groups`` (a budget's, or a suite's)."""
    sources: dict[str, set[str]] = {}
    for group in groups:
        sources.setdefault(str(group["config.morph.method"].iloc[0]), set()).update(_sources(group))
    return {method for method, names in sources.items() if len(names) > 1}


def _arm(group: pd.DataFrame, several: set[str]) -> str:
    """The method's label, with its source when the method ran with several beside it (MorphNet on γ and on FiGS
    gates); otherwise the case group column tells variants apart."""
    method = str(group["config.morph.method"].iloc[0])
    return _name(group) + (f" ({', '.join(sorted(_sources(group)))})" if method in several else "")


def render(df: pd.DataFrame) -> str | None:
    """One table per ranked budget and a one-line verdict for each; None when no budget has enough methods."""
    parts = []
    for (suite, profile, resource, budget), groups in _budgets(df):
        several = _several_sources(list(groups.values()))
        at = pd.concat(list(groups.values()))
        metric = _metric(at)
        table = []
        for key, group in groups.items():
            mean, low, high = interval(evaluations(group, "val", metric), metric)
            table.append((mean, key, group, low, high))
        table.sort(key=lambda t: (-(t[0] if math.isfinite(t[0]) else -math.inf), natural_key(t[1])))
        lead, second = table[0], table[1]
        c = compare(evaluations(lead[2], "val", metric), evaluations(second[2], "val", metric), metric)
        names = [_arm(t[2], several) for t in table]
        if c.verdict == AHEAD:
            call = f"**{names[0]} leads**: Δ vs {names[1]} {fmt_delta(c)}, P {fmt_p(c)}, n {c.n}"
        else:
            call = (f"{c.verdict}: {names[0]} − {names[1]} {fmt_delta(c)}, P {fmt_p(c)}, n {c.n}"
                    if c.seeds else "no paired seeds")
        lines = []
        for rank, ((mean, key, group, low, high), name) in enumerate(zip(table, names), start=1):
            ci = f"{mean:.3f} [{low:.3f}, {high:.3f}]" if math.isfinite(low) else f"{mean:.3f}"
            latency = [c for c in group.columns if c.startswith("latency.") and c.endswith("_b1.median_s")]
            lat = fmt_sig([1e3 * _mean(group, latency[0])]) if latency else "–"
            lines.append([rank, name, key, ci, group["seed"].nunique(), fmt_count([_mean(group, "params")]),
                          fmt_count([_mean(group, "flops")]), lat])
        where = f"{suite}" + (f" [{profile}]" if profile and profile != "quick" else "")
        parts.append(f"**{where}, {resource} budget {fmt_count([budget])}**: {call}.\n\n" + markdown_rows(
            ["Rank", "Method", "Case group", f"Val {metric} [95% CI]", "Seeds", "Params", "FLOPs",
             "Latency b1 ms"], lines))
    if not parts:
        return None
    head = (f"Every budget at which ≥ {MIN_METHODS} methods delivered a final model (MorphNet's last Expanded, a "
            "pruning baseline's fine-tuned Pruned model, the uniform multiplier), ranked by mean val quality over "
            "seeds with its 95% stratified-bootstrap interval (seeds, then evaluation images). A method leads only "
            "when its paired interval against the runner-up excludes 0.")
    return "\n\n".join([head, *parts])
