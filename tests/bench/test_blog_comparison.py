"""The "Blog vs this run" section on hand-made records: each conclusion can hold, fail, or be "not run"."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from bench.report import _blog
from bench.report.sections import blog_comparison

UNET = {"enc0.0": 16, "enc0.1": 16, "dec0.0": 16, "dec0.1": 16, "enc4.0": 256, "enc4.1": 256}


def rec(suite: str, case: str, stage: str, iteration: int | None = None, *, label: str | None = None,
        seed: int = 0, dice: float | None = None, params: int | None = None, widths: dict | None = None,
        histogram: dict | None = None, extra: dict | None = None, **config: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "case_id": f"{case}s{seed}", "suite": suite, "label": f"{label or case},seed={seed}", "stage": stage,
        "iteration": float(iteration) if iteration is not None else math.nan, "status": "ok", "seed": seed,
        "params": params, "metrics.val.dice": dice, "widths": widths, "histogram": histogram,
        "extra": {"profile": "quick", **(extra or {})},
        "config.model.name": "unet", "config.data.name": "synthetic_buildings", "config.data.size": 96,
        "config.data.count": 128, "config.train.optimizer": "adam",
    }
    row.update({f"config.{k.replace('__', '.')}": v for k, v in config.items()})
    return row


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def hist(values: list[float]) -> dict[str, Any]:
    edges = [-6.0 + 0.25 * i for i in range(29)]  # -6 … 1 in quarter decades
    counts = [0] * 28
    for v in values:
        x = math.log10(max(abs(v), 1e-6))
        counts[min(27, max(0, int((x + 6.0) / 0.25)))] += 1
    return {"of": "gamma", "scale": "log10", "edges": edges, "counts": counts, "n": len(values)}


def verdict(fn, rows) -> _blog.Verdict:
    return fn(frame(rows))


# ----------------------------------------------------------------------------------------------- (1)


def learn_morph(case: str, first: int, last: int, seed: int = 0) -> list[dict[str, Any]]:
    alive = {**UNET, "enc0.0": first, "dec0.1": last}
    return [rec("symmetry", case, "base", seed=seed, widths=UNET, params=1000, dice=0.7, morph__method="morphnet"),
            rec("symmetry", case, "learn", 1, seed=seed, widths=alive, morph__method="morphnet")]


def test_later_layers_hold_and_fail() -> None:
    # Δ (first − last alive fraction) per case group: 11/16 and 12/16, both seeds alike: interval [0.69, 0.75]
    holds = [r for seed in (0, 1) for r in learn_morph("a", 15, 4, seed) + learn_morph("b", 14, 2, seed)]
    v = verdict(_blog.later_layers_shrink_more, holds)
    assert v.status == _blog.HOLDS and "2 of 2" in v.evidence and "[95% CI +0.69, +0.75]" in v.evidence
    fails = [r for seed in (0, 1) for r in learn_morph("a", 4, 15, seed) + learn_morph("b", 3, 12, seed)]
    assert verdict(_blog.later_layers_shrink_more, fails).status == _blog.FAILS
    one = learn_morph("a", 15, 4) + learn_morph("b", 14, 2)  # one seed: never a verdict, the rule's answer shown
    v = verdict(_blog.later_layers_shrink_more, one)
    assert v.status == _blog.ONE_SEED and v.evidence.endswith("(on one seed the rule gives: holds)")
    assert verdict(_blog.later_layers_shrink_more, [rec("x", "u", "base")]).status == _blog.NOT_RUN
    flops = [{**r, "config.morph.resource": "flops"} for r in fails]  # a FLOPs cost is another claim
    assert verdict(_blog.later_layers_shrink_more, flops).status == _blog.NOT_RUN


def test_later_layers_reads_blog_fractions() -> None:
    rows = [rec("regularizers", "g", "learn", 1, morph__method="blog", extra={"fractions": [0.9, 0.5, 0.2]})]
    v = verdict(_blog.later_layers_shrink_more, rows)
    assert v.status == _blog.ONE_SEED and "0.90 → 0.20" in v.evidence and "rule gives: holds" in v.evidence


# ----------------------------------------------------------------------------------------------- (2)


def sym_rows(dices: dict[int, list[float]]) -> list[dict[str, Any]]:
    rows = []
    for level, values in dices.items():
        for seed, d in enumerate(values):
            case = f"sym{level}"
            rows.append(rec("symmetry", case, "expand", 1, seed=seed, dice=0.1, params=900,
                            morph__method="morphnet", morph__symmetry=level))
            rows.append(rec("symmetry", case, "expand", 2, seed=seed, dice=d, params=900,
                            morph__method="morphnet", morph__symmetry=level))
    return rows


def test_symmetry_holds_within_tolerance_and_fails_beyond() -> None:
    # widest gap level 2 − level 3, paired per seed: +0.02, 0.00, +0.01 → the interval tops out at 0.020
    v = verdict(_blog.symmetry_does_not_matter,
                sym_rows({1: [0.80, 0.81, 0.80], 2: [0.81, 0.80, 0.81], 3: [0.79, 0.80, 0.80]}))
    assert v.status == _blog.HOLDS and "+0.020]" in v.evidence  # the last iteration counts, not iteration 1
    # paired gaps +0.10, +0.11: all of the interval beyond the tolerance
    assert verdict(_blog.symmetry_does_not_matter, sym_rows({1: [0.80, 0.82], 2: [0.70, 0.71]})).status == _blog.FAILS
    # seeds disagree (−0.03, +0.13): neither equal nor different is shown
    noisy = sym_rows({1: [0.76, 0.84], 2: [0.79, 0.71]})
    assert verdict(_blog.symmetry_does_not_matter, noisy).status == _blog.UNDECIDED
    one = verdict(_blog.symmetry_does_not_matter, sym_rows({1: [0.80], 2: [0.81]}))
    assert one.status == _blog.ONE_SEED and "rule gives: holds" in one.evidence
    assert verdict(_blog.symmetry_does_not_matter, sym_rows({1: [0.8]})).status == _blog.NOT_RUN


# ----------------------------------------------------------------------------------------------- (3)


def conv_rows(one: list[float], double: list[float], double_params: int = 950_000) -> list[dict[str, Any]]:
    return [r for seed, (o, d) in enumerate(zip(one, double)) for r in (
        rec("one_conv", "oc", "base", seed=seed, dice=o, params=960_000, model__name="unet_one_conv"),
        rec("one_conv", "dc", "uniform", seed=seed, dice=d, params=double_params, model__name="unet"))]


def test_one_conv_holds_fails_and_needs_similar_size() -> None:
    # paired one − double: −0.01, 0.00 → interval [−0.01, 0] above −0.02: not worse than the tolerance
    assert verdict(_blog.one_conv_suffices, conv_rows([0.78, 0.79], [0.79, 0.79])).status == _blog.HOLDS
    assert verdict(_blog.one_conv_suffices, conv_rows([0.70, 0.71], [0.79, 0.80])).status == _blog.FAILS
    assert verdict(_blog.one_conv_suffices, conv_rows([0.78], [0.79])).status == _blog.ONE_SEED
    assert verdict(_blog.one_conv_suffices, conv_rows([0.70], [0.79], 2_000_000)).status == _blog.NOT_RUN


# ----------------------------------------------------------------------------------------------- (4)


def gamma_rows(adam: list[float], prox: list[float] | None, seeds: tuple[int, ...] = (0, 1)) -> list[dict[str, Any]]:
    rows = []
    for seed in seeds:
        rows.append(rec("regularizers", "ga", "learn", 1, seed=seed, histogram=hist(adam), morph__method="blog",
                        morph__source="gamma", morph__optimizer="adam", morph__threshold=1e-3))
        if prox is not None:
            rows.append(rec("regularizers", "gp", "learn", 1, seed=seed, histogram=hist(prox),
                            morph__method="morphnet", morph__source="gamma", morph__proximal=True,
                            morph__threshold=1e-2))
    return rows


def test_gamma_adam_fails_holds_and_not() -> None:
    v = verdict(_blog.gamma_fails_with_adam, gamma_rows([0.93] * 100, [0.0] * 60 + [0.5] * 40))
    assert v.status == _blog.HOLDS
    assert "0% of γ" in v.evidence and "proximal fix: 60% dead" in v.evidence
    assert verdict(_blog.gamma_fails_with_adam, gamma_rows([0.0] * 50 + [0.9] * 50, None)).status == _blog.FAILS
    assert verdict(_blog.gamma_fails_with_adam, gamma_rows([0.9] * 10, None)).evidence.endswith("not run")
    assert verdict(_blog.gamma_fails_with_adam, gamma_rows([0.9] * 10, None, (0,))).status == _blog.ONE_SEED


def test_gamma_not_run_without_blog_adam() -> None:
    rows = gamma_rows([0.9] * 10, [0.0] * 10)[1:2]
    assert verdict(_blog.gamma_fails_with_adam, rows).status == _blog.NOT_RUN


# ----------------------------------------------------------------------------------------------- the section


def test_section_table_fills_matched_cells_and_marks_the_rest() -> None:
    strong = dict(morph__method="blog", morph__source="group_lasso", morph__threshold=1e-3)
    rows = [rec("regularizers", "s", "base", dice=0.75, params=1_944_049, **strong),
            rec("regularizers", "s", "shrink", 1, dice=0.70, params=97_000, **strong),
            rec("regularizers", "s", "expand", 1, dice=0.72, params=188_000, **strong),
            # the bugged mapping never stands for Table 2
            rec("regularizers", "bug", "shrink", 1, dice=0.10, params=5, morph__index_shift_bug=True,
                morph__method="blog", morph__source="group_lasso", morph__threshold=1e-3)]
    text = blog_comparison(frame(rows))
    assert text is not None
    line = _row(text, "Table 2 (strong GL)", "Shrunk")
    assert "0.700" in line and "97.00 k (5%)" in line and line[3] == "0.84"
    assert "0.100" not in text
    assert _row(text, "Table 2 (strong GL)", "Shrunk 1")[2:6] == ["1.40 M (5%)", "0.85", "not run", "not run"]
    assert _row(text, "Table 1 (weak GL)", "Base")[2:5] == ["31.00 M (100%)", "0.87", "not run"]
    for claim in ("Later layers shrink more", "symmetry level does not matter", "One conv per level",
                  "Gamma-L1 fails with Adam"):
        assert claim in text


def _row(text: str, table: str, stage: str) -> list[str]:
    """The cells of the numbers table's row for (blog table, stage), stripped of tabulate's padding."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return next(r for r in rows if r[:2] == [table, stage])


def test_full_profile_preferred_and_empty_frame() -> None:
    strong = dict(morph__method="blog", morph__source="group_lasso", morph__threshold=1e-3)
    quick = rec("regularizers", "s", "shrink", 1, dice=0.70, params=97_000, **strong)
    full = rec("regularizers", "f", "shrink", 1, dice=0.83, params=1_300_000, extra={"profile": "full"}, **strong)
    text = blog_comparison(frame([quick, full]))
    line = _row(text, "Table 2 (strong GL)", "Shrunk")
    assert "0.830" in line and "0.700" not in line
    assert blog_comparison(pd.DataFrame(columns=["case_id", "suite", "label", "stage", "iteration", "status"])) is None


@pytest.mark.parametrize("row", list(_blog.BLOG_ROWS))
def test_blog_numbers_are_the_published_ones(row: _blog.BlogRow) -> None:
    assert 0.8 <= row.val_dice <= 0.9 and row.params > 5e5


def test_data_label_names_the_data_a_verdict_is_on() -> None:
    from bench.report._groups import data_label

    assert data_label("folder", "../../shared/data/isbi2012-membrane/train") == "folder: isbi2012-membrane"
    assert data_label("synthetic_buildings", None) == "synthetic_buildings"
    assert data_label("inria", "/data/inria") == "inria"
    assert data_label(None, None) == "–"


def test_each_conclusion_is_checked_per_data_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records of two data sets are never pooled into one verdict: each data set gets its own row."""
    import pandas as pd

    from bench.report import _blog

    def seen(df: pd.DataFrame) -> _blog.Verdict:
        names = sorted(set(df["config.data.name"]))
        return _blog.Verdict("claim", _blog.HOLDS if names else _blog.NOT_RUN, ",".join(names) or "nothing")

    monkeypatch.setattr(_blog, "CONCLUSIONS", (seen,))
    df = pd.DataFrame({"config.data.name": ["synthetic_buildings", "folder", "folder"],
                       "config.data.path": [None, "../shared/data/drive", "../shared/data/drive"]})
    assert _blog._by_data(df) == [["claim", "folder: drive", _blog.HOLDS, "folder"],
                                  ["claim", "synthetic_buildings", _blog.HOLDS, "synthetic_buildings"]]
