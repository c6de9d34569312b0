"""``bench compare``: records matched by (suite, case, stage), with B − A and B / A; and the cell formats."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.report import compare_table
from bench.report._format import fmt_count, fmt_fixed, fmt_ratio, fmt_sig
from bench.report.tables.compare import unmatched_table
from bench.store import StageRecord, load_results, write_record

runner = CliRunner()


def _record(case: str, stage: str, *, params: int, latency_s: float, dice: float, status: str = "ok",
            iteration: int | None = None) -> StageRecord:
    return StageRecord(case_id=case, stage=stage, iteration=iteration, status=status, suite="s", label=f"{case},seed=0",
                       seed=0, params=params, macs=params * 10, train_time_s=4.0,
                       latency={"cpu_b1": {"median_s": latency_s, "iqr_s": 0.0}}, metrics={"val": {"dice": dice}})


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    write_record(a, _record("c1", "base", params=1000, latency_s=0.010, dice=0.80))
    write_record(a, _record("c1", "shrink", params=400, latency_s=0.004, dice=0.75, iteration=1))
    write_record(a, _record("c2", "base", params=1000, latency_s=0.010, dice=0.80))
    write_record(b, _record("c1", "base", params=1000, latency_s=0.005, dice=0.82))
    write_record(b, _record("c1", "shrink", params=500, latency_s=0.002, dice=0.70, iteration=1))
    write_record(b, _record("c2", "base", params=1000, latency_s=0.005, dice=0.0, status="diverged"))
    return a, b


def test_compare_deltas_and_ratios(folders: tuple[Path, Path]) -> None:
    a, b = (load_results(f) for f in folders)
    table = compare_table(a, b).set_index(["Case", "Stage", "Metric"])
    shrink = table.loc[("c1,seed=0", "shrink-it1")]
    assert shrink.loc["Parameters", ["A", "B", "Delta", "Ratio"]].tolist() == [400, 500, 100, 1.25]
    assert shrink.loc["FLOPs", "Delta"] == 2 * 10 * 100  # flops = 2 × macs = 2 × 10 × params
    lat = table.loc[("c1,seed=0", "base", "Latency cpu b1 (ms)")]
    assert lat["A"] == pytest.approx(10.0) and lat["B"] == pytest.approx(5.0) and lat["Ratio"] == pytest.approx(0.5)
    assert table.loc[("c1,seed=0", "shrink-it1", "Val Dice"), "Delta"] == pytest.approx(-0.05)
    assert "c2,seed=0" not in table.index.get_level_values("Case")  # diverged in B: not compared
    stages = list(dict.fromkeys(compare_table(a, b)["Stage"]))
    assert stages == ["base", "shrink-it1"]
    unmatched = unmatched_table(a, b)
    assert unmatched[["Case", "Stage", "A", "B"]].values.tolist() == [["c2,seed=0", "base", "ok", "diverged"]]


def test_compare_ratio_of_zero_is_nan(tmp_path: Path) -> None:
    write_record(tmp_path / "a", _record("c", "base", params=0, latency_s=0.01, dice=0.0))
    write_record(tmp_path / "b", _record("c", "base", params=10, latency_s=0.01, dice=0.5))
    table = compare_table(load_results(tmp_path / "a"), load_results(tmp_path / "b")).set_index("Metric")
    assert math.isnan(table.loc["Parameters", "Ratio"]) and table.loc["Val Dice", "Delta"] == 0.5


def test_compare_command(folders: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = folders
    shown = runner.invoke(app, ["compare", str(a), str(b)])
    assert shown.exit_code == 0, shown.output
    assert "| s       | c1,seed=0 | shrink-it1 | Parameters" in shown.stdout and "1.250×" in shown.stdout
    assert "diverged" in shown.stdout  # listed under "Not compared"
    out = tmp_path / "cmp" / "ab.md"
    written = runner.invoke(app, ["compare", str(a), str(b), "--out", str(out)])
    assert written.exit_code == 0 and out.read_text() == shown.stdout
    missing = runner.invoke(app, ["compare", str(a), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and missing.stderr.startswith("error: ")


def test_mean_ci_formats() -> None:
    # mean ± t(0.975, n − 1) · s / √n: two seeds, s / √2 = 0.05, t(0.975, 1) = 12.706 from a table → 0.635
    assert fmt_fixed([0.8, 0.9]) == "0.850 ± 0.635"
    assert fmt_fixed([0.5]) == "0.500" and fmt_fixed([0.5, None, math.nan]) == "0.500"
    assert fmt_fixed([]) == "–" and fmt_fixed([0.7, 0.7]) == "0.700"  # seeds that agree: no "± 0.000"
    assert fmt_count([1_940_000, 1_960_000]) == "1.95 ± 0.13 M"  # 12.706 × 10 000
    assert fmt_count([7629]) == "7.63 k" and fmt_count([512]) == "512" and fmt_count([31_000_000]) == "31.00 M"
    assert fmt_sig([187.33]) == "187" and fmt_sig([0.98406]) == "0.984" and fmt_sig([12.0, 14.0]) == "13.0 ± 12.7"
    assert fmt_ratio(1.25) == "1.250×" and fmt_ratio(math.inf) == "–"
