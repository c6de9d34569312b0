"""One row per (case, stage): the numbers a reader checks first."""

from __future__ import annotations

import math

import pandas as pd

from bench.store.records import STAGE_ORDER, stage_label

COLUMNS = {
    "label": "Case", "stage_label": "Stage", "status": "Status", "params_m": "Params (M)",
    "gflops": "GFLOPs (2/MAC, fvcore)", "latency_ms": "Latency b1 (ms, median)", "train_time_s": "Train time (s)",
    "metrics.val.dice": "Val Dice", "metrics.test.dice": "Test Dice",
}


def _latency_ms(row: pd.Series) -> float:
    for col in row.index:
        if col.startswith("latency.") and col.endswith("_b1.samples_s"):
            samples = row[col]
            if isinstance(samples, list) and samples:
                return 1e3 * float(pd.Series(samples).median())
    return math.nan


def summary_table(df: pd.DataFrame, errors: bool = False) -> pd.DataFrame:
    """Readable summary: params in millions, FLOPs in G, median batch-1 latency in ms, Dice per split; with
    ``errors`` (``bench show``) also the one-line reason of each failed stage."""
    if df.empty:
        return pd.DataFrame(columns=list(COLUMNS.values()))
    out = df.copy()
    out["stage_label"] = [stage_label(s, i) for s, i in zip(out["stage"], out["iteration"])]
    out["params_m"] = out["params"] / 1e6
    out["gflops"] = out["flops"] / 1e9
    out["latency_ms"] = out.apply(_latency_ms, axis=1)
    out["_order"] = [(lab, (0 if pd.isna(i) else int(i)), STAGE_ORDER.get(s, 9))
                     for lab, s, i in zip(out["label"], out["stage"], out["iteration"])]
    out = out.sort_values("_order")
    cols = [c for c in COLUMNS if c in out.columns]
    if errors:
        out["Error"] = out["error"].fillna("") if "error" in out.columns else ""
        cols.append("Error")
    return out[cols].rename(columns=COLUMNS).reset_index(drop=True)
