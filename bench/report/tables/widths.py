"""The blog's Table 4: alive widths of chosen layers through the stages, as "conv0/conv1" pairs for U-Nets.

Why these layers: the blog watched the first block, the bottleneck (deepest encoder level), the second-to-last
and the last decoder block; MorphNet shrinks late layers most. Other models list every channel group.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import pandas as pd

from bench.report._groups import grouped, layer_order, prepare, recorded_order, sorted_stages
from bench.report.tables import register_table

_ENC = re.compile(r"^enc(\d+)\.[01]$")


def unet_blocks(names: Iterable[str]) -> list[tuple[str, str]] | None:
    """(row title, block prefix) for first / bottom / second last / last, or None if these are not U-Net widths."""
    names = set(names)
    levels = [int(m.group(1)) for n in names if (m := _ENC.match(n))]
    if not levels:
        return None
    deepest = max(levels)
    blocks = [("First", "enc0"), ("Bottom", f"enc{deepest}"), ("Second last", "dec1"), ("Last", "dec0")]
    if all(f"{p}.{i}" in names for _, p in blocks for i in (0, 1)):
        return [(f"{title} ({prefix})", prefix) for title, prefix in blocks]
    return None


def _width(values: list[float]) -> str:
    """An int when every seed agrees, else the mean to one decimal."""
    if not values:
        return "–"
    mean = sum(values) / len(values)
    return str(int(values[0])) if all(v == values[0] for v in values) else f"{mean:.1f}"


def _widths(rows: pd.DataFrame) -> list[Mapping[str, int]]:
    ok = rows[rows["status"] == "ok"]
    return [w for w in ok["widths"] if isinstance(w, Mapping)] if "widths" in ok else []


def _cell(widths: list[Mapping[str, int]], layers: list[str]) -> str:
    parts = []
    for layer in layers:
        values = [float(w[layer]) for w in widths if w.get(layer) is not None and not math.isnan(float(w[layer]))]
        parts.append(_width(values))
    return "/".join(parts) if widths else ""


@register_table("widths")
def widths_table(df: pd.DataFrame) -> pd.DataFrame:
    """Columns Group, Layer, then one per model stage; U-Net cells are "conv0/conv1" of a block (Table 4), other
    models get one row per channel group. Several seeds: their mean (an int when they agree)."""
    data = prepare(df)
    data = data[data["stage"] != "learn"] if len(data) else data
    if data.empty or "widths" not in data:
        return pd.DataFrame(columns=["Group", "Layer"])
    stages = sorted_stages(data)
    out = []
    for group, rows in grouped(data):
        all_widths = _widths(rows)
        names = sorted({n for w in all_widths for n in w})
        blocks = unet_blocks(names)
        layer_rows = ([(title, [f"{p}.0", f"{p}.1"]) for title, p in blocks] if blocks
                      else [(n, [n]) for n in layer_order(names, recorded_order(rows))])
        by_stage = {s: _widths(r) for s, r in rows.groupby("stage_label", sort=False)}
        for title, layers in layer_rows:
            out.append({"Group": group, "Layer": title,
                        **{s: _cell(by_stage[s], layers) if s in by_stage else "" for s in stages}})
    return pd.DataFrame(out, columns=["Group", "Layer", *stages])
