"""The report's structure-learning check: learn val Dice per epoch as a share of the seed's base, by hand."""

from __future__ import annotations

import pandas as pd

from bench.report._learning import learn_health


def _rows(learn: dict[int, list[float]], base: float = 0.8) -> pd.DataFrame:
    rows = []
    for seed, dice in learn.items():
        rows.append({"stage": "base", "seed": seed, "iteration": None, "metrics.val.dice": base, "history": {}})
        rows.append({"stage": "learn", "seed": seed, "iteration": 1, "metrics.val.dice": dice[-1],
                     "history": {"val_dice": dice}})
    return pd.DataFrame(rows)


def test_shares_of_the_base_and_the_lowest_after_the_first_epoch() -> None:
    # seed 0: 0.8/0.8, 0.2/0.8, 0.6/0.8 = 1.00, 0.25, 0.75; seed 1: 0.00, 0.60, 0.70 → mean 0.50, 0.42, 0.72
    text = learn_health(_rows({0: [0.8, 0.2, 0.6], 1: [0.0, 0.48, 0.56]}))
    assert text == ("- learn iteration 1: val Dice per epoch as a share of the base's (mean over 2 seed(s)): "
                    "0.50, 0.42, 0.72; lowest after the first epoch 0.25 (fell below 50%)")
    kept = learn_health(_rows({0: [0.0, 0.4, 0.8]}))
    assert kept is not None and kept.endswith("lowest after the first epoch 0.50 (kept ≥ 50%)")


def test_no_learn_stage_no_line() -> None:
    rows = _rows({0: [0.5]})
    assert learn_health(rows[rows["stage"] == "base"]) is None
