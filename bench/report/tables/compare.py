"""Two result sets side by side: the same (suite, case, stage) measured twice, with B − A and B / A.

Why: two machines, two commits, quick vs full profile, CPU vs GPU are the same question ("what changed?"), so
one table answers them all. Pure numbers here; :mod:`bench.report.render` formats them.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.report._groups import group_label, natural_key, stage_rank
from bench.stats import compare, evaluations
from bench.store.records import stage_label

KEY = ["Suite", "Case", "Stage"]
#: (metric, column, factor to the displayed unit); latency columns are added per device found on both sides.
METRICS = (("Parameters", "params", 1.0), ("FLOPs", "flops", 1.0), ("Train time (s)", "train_time_s", 1.0),
           ("Train Dice", "metrics.train.dice", 1.0), ("Val Acc.", "metrics.val.accuracy", 1.0),
           ("Val Dice", "metrics.val.dice", 1.0), ("Test Dice", "metrics.test.dice", 1.0))


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["Suite"], out["Case"] = out["suite"], out["label"]
    out["Stage"] = [stage_label(s, i) for s, i in zip(out["stage"], out["iteration"])]
    out["_rank"] = [stage_rank(s, i) for s, i in zip(out["stage"], out["iteration"])]
    return out


def _metrics(a: pd.DataFrame, b: pd.DataFrame) -> list[tuple[str, str, float]]:
    latency = sorted(c for c in set(a.columns) & set(b.columns) if c.startswith("latency.") and
                     c.endswith(".median_s"))
    lat = [(f"Latency {c.split('.')[1].replace('_', ' ')} (ms)", c, 1e3) for c in latency]
    return [m for m in (*METRICS[:2], *lat, *METRICS[2:]) if m[1] in a.columns or m[1] in b.columns]


def compare_table(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Columns Suite, Case, Stage, Metric, A, B, Delta (B − A), Ratio (B / A; NaN when A is 0 or missing).

    Records are matched by (suite, case label, stage[-iteration]); only records that are "ok" on both sides
    count, and a pair repeated inside one side (a merged folder) is averaged.
    """
    cols = [*KEY, "Metric", "A", "B", "Delta", "Ratio"]
    if a.empty or b.empty:
        return pd.DataFrame(columns=cols)
    ka, kb = _keyed(a[a["status"] == "ok"]), _keyed(b[b["status"] == "ok"])
    rank = dict(zip(zip(ka["Suite"], ka["Case"], ka["Stage"]), ka["_rank"]))
    rows = []
    for order, (metric, col, factor) in enumerate(_metrics(ka, kb)):
        left = _mean(ka, col, factor)
        right = _mean(kb, col, factor)
        for key in sorted(set(left) & set(right)):
            va, vb = left[key], right[key]
            ratio = vb / va if va not in (0.0,) and math.isfinite(va) else math.nan
            rows.append({**dict(zip(KEY, key)), "Metric": metric, "A": va, "B": vb, "Delta": vb - va,
                         "Ratio": ratio, "_order": (key[0], natural_key(key[1]), rank[key], order)})
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    out = out.iloc[sorted(range(len(out)), key=lambda i: out["_order"].iloc[i])]
    return out[cols].reset_index(drop=True)


def _mean(df: pd.DataFrame, col: str, factor: float) -> dict[tuple[str, str, str], float]:
    if col not in df.columns:
        return {}
    values = pd.to_numeric(df[col], errors="coerce") * factor
    means = values.groupby([df["Suite"], df["Case"], df["Stage"]]).mean()
    return {k: float(v) for k, v in means.items() if math.isfinite(v)}


def unmatched_table(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Records not "ok" on both sides: columns Suite, Case, Stage, A, B with a status or "missing"."""
    status = {}
    for side, df in (("A", a), ("B", b)):
        if df.empty:
            continue
        for key, st in zip(zip(*(_keyed(df)[k] for k in KEY)), df["status"]):
            status.setdefault(key, {"A": "missing", "B": "missing"})[side] = st
    rows = [{**dict(zip(KEY, k)), **v} for k, v in status.items() if v != {"A": "ok", "B": "ok"}]
    rows.sort(key=lambda r: (r["Suite"], natural_key(r["Case"]), r["Stage"]))
    return pd.DataFrame(rows, columns=[*KEY, "A", "B"])


#: (label, split) of the quality metrics compared as paired samples over seeds (and images).
PAIRED_SPLITS = (("Val", "val"), ("Test", "test"))


def paired_quality(a: pd.DataFrame, b: pd.DataFrame) -> list[dict[str, object]]:
    """B − A per (suite, case group, stage) and split, paired on the seeds both sides ran (and on the images
    where both kept per-image counts): rows of Suite, Group, Stage, Metric and a :class:`bench.stats.Comparison`.
    Dice for segmentation, accuracy for a classifier; only records "ok" on both sides count."""
    if a.empty or b.empty:
        return []
    ka, kb = _keyed(a[a["status"] == "ok"]), _keyed(b[b["status"] == "ok"])
    for k in (ka, kb):
        k["Group"] = [group_label(lab) for lab in k["Case"]]
    rows = []
    keys = sorted(set(zip(ka["Suite"], ka["Group"], ka["Stage"])) & set(zip(kb["Suite"], kb["Group"], kb["Stage"])))
    rank = dict(zip(zip(ka["Suite"], ka["Group"], ka["Stage"]), ka["_rank"]))
    keys.sort(key=lambda k: (k[0], natural_key(k[1]), rank[k]))
    for suite, group, stage in keys:
        ra = ka[(ka["Suite"] == suite) & (ka["Group"] == group) & (ka["Stage"] == stage)]
        rb = kb[(kb["Suite"] == suite) & (kb["Group"] == group) & (kb["Stage"] == stage)]
        dice = pd.to_numeric(ra.get("metrics.val.dice", pd.Series(dtype=float)), errors="coerce").notna().any()
        metric = "dice" if dice else "accuracy"
        for label, split in PAIRED_SPLITS:
            if f"metrics.{split}.{metric}" not in ra or f"metrics.{split}.{metric}" not in rb:
                continue
            c = compare(evaluations(rb, split, metric), evaluations(ra, split, metric), metric)
            if c.seeds:
                rows.append({"Suite": suite, "Group": group, "Stage": stage,
                             "Metric": f"{label} {'Dice' if dice else 'Acc.'}", "comparison": c})
    return rows
