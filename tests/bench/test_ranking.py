"""The index's method ranking: methods at one budget ranked by val Dice with intervals, and the leader named only
when its paired interval against the runner-up excludes 0."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report._ranking import front_points, render
from bench.store import StageRecord
from bench.store.loading import flatten_record

FINAL = {"morphnet": ("expand", 1), "l1_norm": ("prune", None), "uniform": ("uniform", None)}


def _counts(tp: list[int], fp: list[int], fn: list[int]) -> dict:
    n = len(tp)
    return {"tp": [tp], "fp": [fp], "fn": [fn], "correct": [1] * n, "total": [1] * n}


def _record(method: str, seed: int, tp: list[int], fp: list[int], fn: list[int]) -> dict:
    stage, iteration = FINAL[method]
    dice = 2 * sum(tp) / (2 * sum(tp) + sum(fp) + sum(fn))
    return flatten_record(StageRecord(
        case_id=f"{method}{seed}", stage=stage, iteration=iteration, suite="s", label=f"method={method},seed={seed}",
        seed=seed, status="ok", params=100, flops=1000, extra={"profile": "quick"},
        config={"morph": {"method": method, "budget": 100.0, "resource": "params"}},
        metrics={"val": {"dice": dice}}, per_image={"val": _counts(tp, fp, fn)}))


def _frame(levels: dict[str, float], noise: float) -> pd.DataFrame:
    """20 images per seed, 3 seeds; each method's per-image tp share around its level."""
    rng = np.random.default_rng(0)
    rows = []
    for method, level in levels.items():
        for seed in range(3):
            tp = [int(v) for v in np.clip(np.round(100 * (level + noise * rng.standard_normal(20))), 1, 99)]
            rows.append(_record(method, seed, tp, [100 - t for t in tp], [100 - t for t in tp]))
    return pd.DataFrame(rows)


def test_a_clear_leader_is_named_with_its_interval() -> None:
    text = render(_frame({"morphnet": 0.9, "l1_norm": 0.6, "uniform": 0.5}, noise=0.02))
    assert "**s, params budget 100**: **MorphNet leads**: Δ vs L1-norm pruning +0.30" in text
    ranks = [line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| ") and "Rank" not in line]
    assert ranks == ["MorphNet", "L1-norm pruning", "uniform"]


def test_a_lead_inside_the_noise_is_no_difference() -> None:
    text = render(_frame({"morphnet": 0.50, "l1_norm": 0.49, "uniform": 0.2}, noise=0.3))
    assert "leads**" not in text and "**s, params budget 100**: no difference shown: MorphNet − L1-norm pruning" in text


def test_fewer_than_three_methods_are_not_ranked() -> None:
    assert render(_frame({"morphnet": 0.9, "uniform": 0.5}, noise=0.02)) is None


def test_front_points_name_a_method_run_with_two_sources() -> None:
    """MorphNet on γ and on FiGS gates are two arms, named by source; each point's interval brackets its mean."""
    frame = _frame({"morphnet": 0.8, "l1_norm": 0.6, "uniform": 0.5}, noise=0.02)
    figs = frame[frame["config.morph.method"] == "morphnet"].copy()
    figs["label"] = figs["label"].str.replace("method=morphnet", "method=morphnet,source=figs")
    figs["case_id"] = figs["case_id"] + "f"
    figs["config.morph.source"] = "figs"
    frame["config.morph.source"] = "gamma"
    points = front_points(pd.concat([frame, figs], ignore_index=True))
    assert sorted(points["arm"]) == ["L1-norm pruning", "MorphNet (figs)", "MorphNet (gamma)", "uniform"]
    assert (points["low"] <= points["val"]).all() and (points["val"] <= points["high"]).all()
    assert set(points["seeds"]) == {3} and set(points["budget"]) == {100.0}
    text = render(pd.concat([frame, figs], ignore_index=True))
    assert "MorphNet (figs)" in text and "MorphNet (gamma)" in text
    assert front_points(_frame({"morphnet": 0.9, "uniform": 0.5}, noise=0.02)).empty  # not ranked: no front
