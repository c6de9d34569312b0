"""`bench verify` on a tiny committed suite: a faithful rerun passes, a perturbed record fails with exit 1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import api
from bench.cli import app
from bench.store import StageRecord, load_records, write_archives
from bench.verify import TOLERANCE, band, choose_cases
from tests.bench.conftest import small_suite

TINY = small_suite("tinyv", count=16) + """
[train]
epochs = 1
batch_size = 8
lr = 1e-3
[morph]
method = "uniform"
[measure]
batch_sizes = [1]
warmup = 0
min_runs = 1
min_time_s = 0.0
"""


def _record(value: float, seed: int = 0, per_image: dict | None = None) -> StageRecord:
    return StageRecord(case_id=f"c{seed}", stage="base", suite="s", label=f"lr=1,seed={seed}", seed=seed,
                       metrics={"val": {"dice": value}}, per_image={"val": per_image} if per_image else {})


def test_band_rules_by_hand() -> None:
    # three committed seeds 0.7, 0.8, 0.9: mean 0.8, s 0.1, t(0.975, 2) = 4.3027 → ± 4.3027 · 0.1 · √(4/3)
    seeds = [_record(v, s) for s, v in enumerate((0.7, 0.8, 0.9))]
    low, high, how = band(seeds[0], "val", "dice", seeds)
    assert (low, high) == pytest.approx((0.8 - 0.49683, 0.8 + 0.49683), abs=1e-4) and how == "seed band (3 seeds)"
    # one seed, no counts: the stated absolute tolerance
    assert band(seeds[0], "val", "dice", seeds[:1])[:2] == pytest.approx((0.7 - TOLERANCE, 0.7 + TOLERANCE))
    # one seed with counts: 4 images of Dice 1 and 4 of Dice 0 → the per-image interval [2/9, 14/15]
    counts = {"tp": [[1] * 4 + [0] * 4], "fp": [[0] * 8], "fn": [[0] * 4 + [1] * 4], "correct": [1] * 8,
              "total": [1] * 8}
    one = _record(2 * 4 / 12, per_image=counts)
    assert band(one, "val", "dice", [one])[:2] == pytest.approx((2 / 9, 14 / 15))


def test_sample_is_drawn_by_seed() -> None:
    records = [_record(0.5, s) for s in range(6)]
    first = choose_cases(records, sample=2, seed=1)
    assert first == choose_cases(records, sample=2, seed=1) and len(set(first)) == 2
    assert choose_cases(records, cases=["c3"]) == ["c3"]


def test_verify_passes_a_faithful_rerun_and_fails_a_perturbed_record(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "tinyv.toml").write_text(TINY)
    results, records = tmp_path / "results", tmp_path / "records"
    assert api.run_suite(suites / "tinyv.toml", results=results, progress=False).exit_code == 0
    write_archives(load_records(results), records)
    case_id = load_records(records)[0].case_id
    args = ["verify", str(records), "--cases", case_id, "--suites", str(suites), "--work", str(tmp_path / "w")]

    runner = CliRunner()
    good = runner.invoke(app, args)
    assert good.exit_code == 0, good.output
    assert "NOT reproduced" not in good.output and "bit-exact" in good.output and "val dice" in good.output

    archive = records / "tinyv.jsonl"
    lines = [json.loads(line) for line in archive.read_text().splitlines()]
    base = next(r for r in lines if r["stage"] == "base")
    base["params"] += 1
    base["metrics"]["val"]["dice"] = math.fsum([base["metrics"]["val"]["dice"], 0.3])
    archive.write_text("".join(json.dumps(r) + "\n" for r in lines))
    bad = runner.invoke(app, args)  # the scratch folder already holds the rerun: judged again, not retrained
    assert bad.exit_code == 1, bad.output
    assert "NOT reproduced (-1)" in bad.output and "outside" in bad.output


def test_seed_band_takes_siblings_of_the_same_profile_only() -> None:
    """A real-data profile's seeds carry the quick profile's labels: judging a quick rerun against them would mix
    data sets. Only c0's own one-seed band (±TOLERANCE) applies when its siblings are on another profile."""
    from bench.verify import judge

    quick = _record(0.7, 0)
    others = [StageRecord(case_id=f"r{s}", stage="base", suite="s", label=f"lr=1,seed={s}", seed=s,
                          metrics={"val": {"dice": v}}, extra={"profile": "real_isbi"})
              for s, v in ((1, 0.2), (2, 0.3))]
    rerun = StageRecord(case_id="c0", stage="base", suite="s", label="lr=1,seed=0", seed=0,
                        metrics={"val": {"dice": 0.72}})
    (check,) = [c for c in judge([quick, *others], [rerun], "c0") if c.metric == "val dice"]
    assert check.ok and check.band == f"[{0.7 - TOLERANCE:.4f}, {0.7 + TOLERANCE:.4f}] ±{TOLERANCE:g}"


def test_rerun_uses_the_committed_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from bench.verify import _threads_of, committed_threads

    committed = [StageRecord(case_id="c", stage="base", suite="s", env={"torch_threads": 1}),
                 StageRecord(case_id="c", stage="uniform", suite="s", env={"torch_threads": 2},
                             extra={"reused": True}),  # reused stages were trained elsewhere: not counted
                 StageRecord(case_id="d", stage="base", suite="s", env={"torch_threads": 2})]
    assert committed_threads(committed, "c") == 1 and committed_threads(committed, "x") is None
    monkeypatch.delenv("MORPH_BENCH_THREADS", raising=False)
    with _threads_of(committed, "c"):
        assert os.environ["MORPH_BENCH_THREADS"] == "1"
    assert "MORPH_BENCH_THREADS" not in os.environ
    monkeypatch.setenv("MORPH_BENCH_THREADS", "2")  # the user's own setting wins
    with _threads_of(committed, "c"):
        assert os.environ["MORPH_BENCH_THREADS"] == "2"


def _stage_record(seed: int, params: int, widths: dict, cpu: str, stage: str = "expand") -> StageRecord:
    return StageRecord(case_id=f"c{seed}", stage=stage, iteration=1 if stage == "expand" else None, suite="s",
                       label=f"lr=1,seed={seed}", seed=seed, status="ok", params=params, widths=widths,
                       metrics={"val": {"dice": 0.7}},
                       env={"cpu": cpu, "torch_threads": 1, "packages": {"torch": "2.14.1"}})


def test_a_learned_structure_from_another_cpu_is_judged_by_the_seed_band() -> None:
    """Float reductions differ across CPU models: a learned width may move, so params go to the seed band
    (1000, 1100, 1200: mean 1100, s 100, ± 4.3027 · 100 · √(4/3) = ± 496.8) and widths are shown; the same CPU
    keeps every structure bit-exact, and a base stage is bit-exact anywhere."""
    from bench.verify import judge

    committed = [_stage_record(s, p, {"a": 10 + s}, "Intel") for s, p in enumerate((1000, 1100, 1200))]
    amd = _stage_record(0, 1400, {"a": 12}, "AMD")
    checks = {c.metric: c for c in judge(committed, [amd], "c0")}
    assert checks["params"].kind == "structure" and checks["params"].ok
    assert checks["params"].band == "[603, 1,597] seed band (3 seeds)"
    assert not checks["widths"].judged and checks["widths"].result.startswith("shown, not judged (1 layer(s)")
    far = {c.metric: c for c in judge(committed, [_stage_record(0, 1700, {"a": 10}, "AMD")], "c0")}
    assert not far["params"].ok and far["params"].result == "NOT reproduced (+103 outside)"
    same = {c.metric: c for c in judge(committed, [_stage_record(0, 1400, {"a": 12}, "Intel")], "c0")}
    assert same["params"].kind == "exact" and not same["params"].ok and not same["widths"].ok
    avx2 = _stage_record(0, 1400, {"a": 12}, "Intel")
    avx2.env["cpu_capability"] = "AVX2"  # same model name, another SIMD level: another place
    assert {c.metric: c for c in judge(committed, [avx2], "c0")}["params"].kind == "structure"
    base = [_stage_record(s, 1000, {"a": 16}, "Intel", stage="base") for s in range(3)]
    moved = {c.metric: c for c in judge(base, [_stage_record(0, 1001, {"a": 16}, "AMD", stage="base")], "c0")}
    assert moved["params"].kind == "exact" and not moved["params"].ok
