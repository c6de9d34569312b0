"""The pipeline end to end on a tiny suite: stages, sharing, resume, failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from bench import api
from bench.pipeline import case_status, plan_case, stage_records
from bench.stats import Counts, pooled
from bench.store import load_results
from bench.suite import load_suite


def _run(suite: Path, results: Path, **kw: object) -> api.RunSummary:
    return api.run_suite(suite, results=results, progress=False, **kw)  # type: ignore[arg-type]


def test_plan_shares_base_and_learning_between_symmetry_levels(tiny_suite: Path) -> None:
    cases = load_suite(tiny_suite).cases()
    plans = {c.label: plan_case(c) for c in cases}
    assert [s.label for s in plans["method=morphnet,sym=0,seed=0"]] == ["base", "learn-it1", "shrink-it1", "expand-it1"]
    assert [s.label for s in plans["method=uniform,sym=0,seed=0"]] == ["base", "uniform"]
    keys = {label: {s.label: s.key for s in plan} for label, plan in plans.items()}
    sym0, sym2 = keys["method=morphnet,sym=0,seed=0"], keys["method=morphnet,sym=2,seed=0"]
    assert sym0["base"] == sym2["base"] == keys["method=uniform,sym=0,seed=0"]["base"]
    assert sym0["learn-it1"] == sym2["learn-it1"]
    assert sym0["shrink-it1"] != sym2["shrink-it1"]


def test_run_writes_every_stage_and_a_rerun_changes_nothing(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert _run(tiny_suite, results).exit_code == 0
    df = load_results(results)
    assert set(df["status"]) == {"ok"}
    assert len(df) == 4 + 4 + 2  # two MorphNet cases with four stages, one uniform case with two
    for col in ("params", "macs", "flops", "train_time_s", "metrics.val.dice", "env.python"):
        assert df[col].notna().all(), col
    assert (df["flops"] == 2 * df["macs"]).all()
    for _, row in df.iterrows():  # per-image counts of val and test pool back to the record's own Dice
        for split in ("val", "test"):
            counts = Counts.from_record(row["per_image"][split])
            assert counts.images == 2
            assert pooled(counts, "dice") == pytest.approx(row[f"metrics.{split}.dice"], abs=1e-12)
    learn = df[df["stage"] == "learn"].iloc[0]
    assert sum(learn["histogram"]["counts"]) == learn["histogram"]["n"] > 0
    assert len(learn["history"]["reg_cost"]) == 1
    shared = df[df["stage"] == "base"]
    assert shared["extra"].map(lambda e: e["stage_key"]).nunique() == 1
    assert sorted(shared["extra"].map(lambda e: e["reused"])) == [False, True, True]

    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    assert _run(tiny_suite, results).exit_code == 0
    after = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    assert before == after


def test_shrunk_and_expanded_models_follow_their_widths(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _run(tiny_suite, results)
    suite = load_suite(tiny_suite)
    case = next(c for c in suite.cases() if c.label == "method=morphnet,sym=2,seed=0")
    records = {s.label: r for s, r in stage_records(results, case)}
    shrunk, expanded = records["shrink-it1"].widths, records["expand-it1"].widths
    assert shrunk["enc0.0"] == shrunk["enc0.1"] and expanded["dec1.0"] == expanded["dec1.1"]  # symmetry level 2
    budget = records["expand-it1"].extra["budget"]
    assert records["expand-it1"].extra["cost"] <= budget
    model = api.load_model(case.id, results)
    assert {k: v for k, v in model.widths.items()} == expanded
    assert sum(p.numel() for p in model.parameters()) == records["expand-it1"].params
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 1, 32, 32)


def test_failing_case_is_recorded_and_the_suite_goes_on(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    suite = make_tiny(extra='include = [{ "morph.method" = "morphnet", "morph.symmetry" = 0, '
                                         '"morph.resource" = "params", "morph.budget" = 10.0 }]')
    results = tmp_path / "results"
    summary = _run(suite, results)
    assert summary.exit_code == 1
    assert sorted(summary.statuses.values()) == ["failed", "ok", "ok"]
    cases = {c.label: c for c in load_suite(suite).cases()}
    failed = next(c for c in cases.values() if summary.statuses[c.id] == "failed")
    record = json.loads((results / failed.id / "expand-it1.json").read_text())
    assert record["status"] == "failed" and "budget" in record["error"] and "\n" not in record["error"]
    assert case_status(results, failed) == "failed"
    # A rerun leaves the failure alone; --retry-failed tries again (and fails again, for the same reason).
    assert _run(suite, results).statuses[failed.id] == "failed"
    assert _run(suite, results, retry_failed=True).statuses[failed.id] == "failed"


def test_finished_cases_without_their_products_are_not_retrained(tiny_suite: Path, tmp_path: Path) -> None:
    """Records copied without the stage products (.stages/), as from reports/records: a rerun keeps every finished
    case as it is; a case missing its last record recomputes only that stage's chain."""
    import shutil

    results = tmp_path / "results"
    assert _run(tiny_suite, results).exit_code == 0
    shutil.rmtree(results / ".stages")
    before = {p: p.read_bytes() for p in results.rglob("*.json")}
    assert _run(tiny_suite, results).exit_code == 0
    assert {p: p.read_bytes() for p in results.rglob("*.json")} == before
    uniform = next(results.glob("*/uniform.json"))
    uniform.unlink()
    assert _run(tiny_suite, results).exit_code == 0
    changed = {p for p in results.rglob("*.json") if p.read_bytes() != before.get(p)}
    assert {p.relative_to(results).parts[0] for p in changed if ".stages" not in p.parts} == {uniform.parent.name}


def test_force_redoes_a_shared_stage_once(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _run(tiny_suite, results)
    # Records are replaced atomically (temp file + rename), so a rewritten record is a new inode; started_at has
    # one-second resolution and a fast machine finishes the tiny suite within one second.
    inodes = {p: p.stat().st_ino for p in results.glob("*/base.json")}
    _run(tiny_suite, results, force=True)
    df = load_results(results)
    base = df[df["stage"] == "base"]
    assert all(p.stat().st_ino != ino for p, ino in inodes.items())
    assert sorted(base["extra"].map(lambda e: e["reused"])) == [False, True, True]


@pytest.mark.parametrize("only,count", [(["method=uniform,sym=0,seed=0"], 1), ([], 3)])
def test_dry_run_runs_nothing(tiny_suite: Path, tmp_path: Path, only: list[str], count: int,
                              capsys: pytest.CaptureFixture[str]) -> None:
    summary = _run(tiny_suite, tmp_path / "results", dry_run=True, only=only)
    assert len(summary.statuses) == count
    assert not (tmp_path / "results").exists()
    assert capsys.readouterr().out.count("todo") == count


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tiny_suite_runs_on_cuda(tiny_suite: Path, tmp_path: Path) -> None:
    """Every stage trains and measures on the GPU (the measurers get CPU models, as the pipeline passes them)."""
    results = tmp_path / "results"
    summary = _run(tiny_suite, results, device="cuda")
    df = load_results(results)
    assert summary.exit_code == 0, df.get("error")
    assert set(df["status"]) == {"ok"}
    lat = [c for c in df.columns if c.startswith("latency.")]
    assert lat and all(c.startswith("latency.cuda_b") for c in lat)
    memory = df["peak_memory_bytes"].dropna()
    assert len(memory) and (memory > 0).all()


def test_target_cost_steers_structure_learning(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    """With morph.target_cost = 0.5 the alive cost ends near half the seed's cost, and λ moved to get there
    (it started at 1e-4, which alone prunes far more; see morph.schedule)."""
    suite = make_tiny(learn_epochs=20, extra='"morph.target_cost" = [0.5]\n"morph.strength" = [1e-4]')
    results = tmp_path / "results"
    assert _run(suite, results, only=["method=morphnet,sym=0,target_cost=0.5,lam=0.0001,seed=0"]).exit_code == 0
    learn = load_results(results).query("stage == 'learn'").iloc[0]
    share = learn["history"]["reg_cost"][-1] / learn["extra"]["seed_cost"]
    assert abs(share - 0.5) < 0.2
    lams = learn["history"]["lambda"]
    assert max(lams) / min(lams) > 10 and learn["extra"]["final_lambda"] == lams[-1]


def test_learn_max_rate_caps_lambda_and_the_controller_does_not_wind_up(make_tiny: Callable[..., Path],
                                                                         tmp_path: Path) -> None:
    """morph.learn_max_rate = 1e-3 is far below the λ that reaches the target, so the cap binds: every epoch's
    λ is at most its cap, and the controller's own λ ends at the cap, not far above it (without the clamp it
    grows by up to 2× a step while the cost stays above the path)."""
    suite = make_tiny(learn_epochs=4, extra='"morph.target_cost" = [0.5]\n"morph.strength" = [1e-4]\n'
                                            '"morph.learn_max_rate" = [1e-3]')
    results = tmp_path / "results"
    only = ["method=morphnet,sym=0,target_cost=0.5,lam=0.0001,learn_max_rate=0.001,seed=0"]
    assert _run(suite, results, only=only).exit_code == 0
    learn = load_results(results).query("stage == 'learn'").iloc[0]
    lams, caps = learn["history"]["lambda"], learn["history"]["lambda_cap"]
    assert all(lam <= cap * (1 + 1e-9) for lam, cap in zip(lams, caps))
    assert learn["extra"]["final_lambda"] <= max(caps) * (1 + 1e-9)
    assert lams[-1] == pytest.approx(caps[-1], rel=0.05)


def test_learn_floor_ramp_lowers_the_protected_floor_to_learn_floor(make_tiny: Callable[..., Path],
                                                                     tmp_path: Path) -> None:
    """morph.learn_floor_ramp = 2 epochs down to learn_floor = 0.25: after k steps the floor is
    1 − 0.75·k / (2p), p steps an epoch, and learn_floor from then on: 0.625 after the first epoch."""
    suite = make_tiny(learn_epochs=3, extra='"morph.learn_floor" = [0.25]\n"morph.learn_floor_ramp" = [2.0]')
    results = tmp_path / "results"
    only = ["method=morphnet,sym=0,learn_floor=0.25,learn_floor_ramp=2,seed=0"]
    assert _run(suite, results, only=only).exit_code == 0
    learn = load_results(results).query("stage == 'learn'").iloc[0]
    assert learn["history"]["floor"] == pytest.approx([0.625, 0.25, 0.25])


def test_strength_warmup_ramps_lambda_from_zero(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    """morph.strength_warmup = 3 epochs: the λ in force after k steps is λ·(k + 1) / (3p), p steps an epoch,
    until it reaches λ; the epoch-end history shows it. Without a warm-up the history is λ throughout."""
    suite = make_tiny(learn_epochs=4, extra='"morph.strength_warmup" = [0.0, 3.0]\n"morph.strength" = [1e-4]')
    results = tmp_path / "results"
    only = [f"method=morphnet,sym=0,strength_warmup={w},lam=0.0001,seed=0" for w in (0, 3)]
    assert _run(suite, results, only=only).exit_code == 0
    learn = load_results(results).query("stage == 'learn'")
    by_warmup = {"strength_warmup=3" in r["label"]: r for _, r in learn.iterrows()}
    assert by_warmup[False]["history"]["lambda"] == [1e-4] * 4
    ramp = [v / 1e-4 for v in by_warmup[True]["history"]["lambda"]]
    p = 1 / (3 * ramp[0] - 1)  # ramp[0] = (p + 1) / (3p)
    assert p == pytest.approx(round(p)) and round(p) >= 1
    p = round(p)
    assert ramp == pytest.approx([min(1.0, ((e + 1) * p + 1) / (3 * p)) for e in range(4)])
    assert ramp[0] < 1 and ramp[-1] == 1


def test_channel_divisor_rounds_every_width(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    """morph.channel_divisor = 4 (the tiny U-Net's seed widths are 4, 8, 16): shrunk, expanded and uniform widths
    are multiples of 4, within the budget; at its default of 1 the case ids are those of a suite without it."""
    plain = {c.label: c.id for c in load_suite(make_tiny()).cases()}
    ones = load_suite(make_tiny(extra='"morph.channel_divisor" = [1]')).cases()
    assert {c.label.replace(",channel_divisor=1", ""): c.id for c in ones} == plain
    suite = make_tiny(extra='"morph.channel_divisor" = [4]')
    results = tmp_path / "results"
    only = [f"method={m},sym=0,channel_divisor=4,seed=0" for m in ("morphnet", "uniform")]
    assert _run(suite, results, only=only).exit_code == 0
    df = load_results(results)
    rounded = df[df["stage"].isin(["shrink", "expand", "uniform"])]
    assert len(rounded) == 3
    for _, row in rounded.iterrows():
        assert all(w % 4 == 0 for w in row["widths"].values()), (row["stage"], row["widths"])
        if row["stage"] != "shrink":
            assert row["extra"]["cost"] <= row["extra"]["budget"]


def test_latency_resource_with_a_calibrated_profile_file(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    """morph.device_profile may name a profile file from `bench calibrate`: learn and expand use its device."""
    from bench.calibrate import GRIDS, calibrate, save_profile
    from morph.groups import build_graph
    from morph.models.unet import UNet, unet_widths
    from morph.resources import graph_cost

    cal = calibrate(GRIDS["quick"], "synthetic",
                    timer=lambda task: sum(1e-5 * f["const"] + 1e-10 * f.get("flop", 0) for f in task.terms.values()))
    profile = save_profile(cal, tmp_path / "devices" / "synthetic.json")
    suite = make_tiny(extra=f'"morph.resource" = ["latency"]\n"morph.device_profile" = ["{profile}"]')
    results = tmp_path / "results"
    case = next(c for c in load_suite(suite).cases() if c.label.startswith("method=morphnet,sym=0"))
    assert _run(suite, results, only=[case.id]).exit_code == 0
    records = {s.label: r for s, r in stage_records(results, case)}
    expand = records["expand-it1"]
    # the budget is the seed model's (the tiny suite's U-Net) cost on the calibrated device
    seed = build_graph(UNet(unet_widths(4, depth=2), depth=2), torch.zeros(1, 3, 32, 32))
    assert expand.extra["budget"] == pytest.approx(graph_cost(seed, None, "latency", cal.device))
    assert expand.extra["cost"] <= expand.extra["budget"]
