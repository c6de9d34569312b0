"""The blog's Tables 1, 2 and 5: one column per model stage, one row per quantity, mean ± 95% interval over seeds.

Why a long table with a ``Group`` column: one pure function serves every suite; the renderer prints one
markdown table per group and drops the stage columns a group does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pandas as pd

from bench.report._format import fmt_count, fmt_fixed, fmt_sig, mean_ci, pm, sig_decimals
from bench.report._groups import grouped, prepare, sorted_stages
from bench.report.tables import register_table

Cell = Callable[[pd.DataFrame], str]
_LATENCY = re.compile(r"^latency\.(.+)_b1\.median_s$")
_CLASS_DICE = re.compile(r"^metrics\.val\.dice_c(\d+)$")
_QUALITY = (("Train Acc.", "metrics.train.accuracy"), ("Train Dice", "metrics.train.dice"),
            ("Val Acc.", "metrics.val.accuracy"), ("Val Dice", "metrics.val.dice"),
            ("Test Acc.", "metrics.test.accuracy"), ("Test Dice", "metrics.test.dice"))


def _column(name: str, fmt: Callable[[Sequence[float]], str]) -> Cell:
    return lambda rows: fmt(list(rows[name])) if name in rows else "–"


def _latency(key: str) -> Cell:
    """Median batch-1 latency in ms; one run shows its IQR in brackets, several the mean ± 95% interval of
    their medians."""

    def cell(rows: pd.DataFrame) -> str:
        valid = rows[pd.to_numeric(rows[f"latency.{key}.median_s"], errors="coerce").notna()]
        mean, std, n = mean_ci([1e3 * v for v in valid[f"latency.{key}.median_s"]])
        decimals = sig_decimals(mean)
        iqr = 1e3 * float(valid[f"latency.{key}.iqr_s"].iloc[0]) if n == 1 and f"latency.{key}.iqr_s" in valid else None
        if iqr is not None and iqr == iqr:
            return f"{pm(mean, std, decimals)} [IQR {iqr:.{decimals}f}]"
        return pm(mean, std, decimals)

    return cell


def quantity_rows(df: pd.DataFrame) -> list[tuple[str, Cell]]:
    """The rows this data can fill: params, FLOPs, latency per device, train time, accuracy and Dice per split."""
    rows: list[tuple[str, Cell]] = [("Parameters", _column("params", fmt_count)), ("FLOPs", _column("flops", fmt_count))]
    for col in sorted(c for c in df.columns if _LATENCY.match(c)):
        device = _LATENCY.match(col).group(1)  # type: ignore[union-attr]
        rows.append((f"Latency {device.replace('_', ' ')} b1 (ms)", _latency(f"{device}_b1")))
    rows.append(("Train time (s)", _column("train_time_s", fmt_sig)))
    for name, col in _QUALITY:
        if col in df.columns and df[col].notna().any():
            rows.append((name, _column(col, fmt_fixed)))
    return rows


def per_class_rows(rows: pd.DataFrame) -> list[tuple[str, Cell]]:
    """Val Dice of each class, for a group of multi-class records (``dice_c<k>``); none for binary ones. Rows are
    named by ``data.class_names`` where the records have them."""
    found = [(int(m.group(1)), c) for c in rows.columns if (m := _CLASS_DICE.match(c)) and rows[c].notna().any()]
    names = class_names(rows)
    return [(f"Val Dice {names[k]} ({k})" if k < len(names) else f"Val Dice class {k}", _column(col, fmt_fixed))
            for k, col in sorted(found)]


def class_names(rows: pd.DataFrame) -> list[str]:
    """The records' ``data.class_names`` (the first record that has them), or none."""
    for value in rows.get("config.data.class_names", pd.Series(dtype=object)):
        if isinstance(value, (list, tuple)) and value:
            return [str(v) for v in value]
    return []


def stage_cell(rows: pd.DataFrame, cell: Cell) -> str:
    """A cell from the ok records; their status when none is ok; "(k/n ok)" when some are not."""
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        return "/".join(sorted(set(rows["status"])))
    text = cell(ok)
    return text if len(ok) == len(rows) else f"{text} ({len(ok)}/{len(rows)} ok)"


@register_table("stages")
def stages_table(df: pd.DataFrame) -> pd.DataFrame:
    """Columns Group, Metric, then one per model stage (Base, Shrunk, Expanded, Shrunk 1, …, Uniform (same
    budget)); cells "mean ± 95% interval" over seeds, "" where a group lacks the stage. Structure-learning stages are left
    out: they are not models anyone would deploy (their γ histograms are figures)."""
    data = prepare(df)
    data = data[data["stage"] != "learn"] if len(data) else data
    if data.empty:
        return pd.DataFrame(columns=["Group", "Metric"])
    stages = sorted_stages(data)
    quantities = quantity_rows(data[data["status"] == "ok"])
    out = []
    for group, rows in grouped(data):
        by_stage = {s: r for s, r in rows.groupby("stage_label", sort=False)}
        for name, cell in [*quantities, *per_class_rows(rows[rows["status"] == "ok"])]:
            out.append({"Group": group, "Metric": name,
                        **{s: stage_cell(by_stage[s], cell) if s in by_stage else "" for s in stages}})
        out.append({"Group": group, "Metric": "Runs (seeds)",
                    **{s: str(len(by_stage[s])) if s in by_stage else "" for s in stages}})
    return pd.DataFrame(out, columns=["Group", "Metric", *stages])
