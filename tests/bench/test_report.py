"""Reports from a small fixed results folder, written here record by record (no training, no torch).

Golden files live in ``tests/bench/golden/report/``. After an intended change to the report's text, regenerate
them with ``UPDATE_GOLDEN=1 pytest tests/bench -k report`` and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.report._groups import UNIFORM_MATCH, layer_order, stage_label
from bench.report.render import write_reports
from bench.report.tables import create_table, table_names
from bench.store import StageRecord, load_results, write_record

GOLDEN = Path(__file__).parent / "golden" / "report"
UNET = {"enc0.0": 4, "enc0.1": 4, "enc1.0": 8, "enc1.1": 8, "enc2.0": 16, "enc2.1": 16, "up1": 8, "dec1.0": 8,
        "dec1.1": 8, "up0": 4, "dec0.0": 4, "dec0.1": 4}
ENV = {"git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False, "device": "Test CPU",
       "hostname": "testhost", "torch_threads": 2, "python": "3.11.7", "platform": "Linux-test", "cuda": None,
       "cudnn": None, "packages": {"fvcore": "0.1.5", "torch": "2.0.0"}}
runner = CliRunner()


def _widths(stage: str, it: int | None, seed: int, base: dict[str, int]) -> dict[str, int]:
    """Shrink halves late layers (more for seed 1), expand scales everything by 1.5: widths that vary by stage."""
    if stage in ("base", "learn"):
        return dict(base)
    k = it or 1
    out = {}
    for i, (name, w) in enumerate(base.items()):
        shrunk = max(1, w - (i * w) // (len(base) + seed + k))
        out[name] = shrunk if stage == "shrink" else (int(shrunk * 1.5) if stage == "expand" else int(w * 0.75))
    return out


def make_record(suite: str, label: str, seed: int, stage: str, it: int | None, *, method: str = "morphnet",
                sym: int = 0, model: dict[str, Any] | None = None, base: dict[str, int] | None = None,
                status: str = "ok", speed: float = 1.0) -> StageRecord:
    widths = _widths(stage, it, seed, base or UNET)
    params = 40 * sum(widths.values())
    lat = speed * 1e-5 * params
    quality = 0.8 + 0.01 * seed - 0.02 * (stage == "shrink") - 0.01 * (it or 0) + 0.005 * (stage == "uniform")
    hist = {"of": "gamma", "scale": "log10", "edges": [-3.0, -2.0, -1.0, 0.0], "counts": [2 + seed, 5, 37 - seed],
            "n": 44} if stage == "learn" else None
    ok = status == "ok"
    return StageRecord(
        case_id=f"{suite}-{label.replace(',', '-').replace('=', '')}-s{seed}", stage=stage, iteration=it,
        status=status, suite=suite, label=f"{label},seed={seed}", seed=seed, widths=widths, params=params,
        macs=1000 * params if ok else None, train_time_s=(12.5 + seed + (it or 0)) if ok else None,
        error=None if ok else "loss is NaN",
        latency={"cpu_b1": {"device": "cpu", "batch": 1, "threads": 2, "input_shape": [3, 32, 32],
                            "dtype": "float32", "warmup": 5, "median_s": lat, "iqr_s": 0.1 * lat,
                            "samples_s": [0.9 * lat, lat, 1.1 * lat]}} if ok else {},
        metrics={split: {"dice": quality - 0.03 * j, "accuracy": quality + 0.1} for j, split in
                 enumerate(("train", "val", "test"))} if ok else {},
        histogram=hist,
        config={"data": {"name": "synthetic_buildings", "count": 16, "size": 32},
                "model": model or {"name": "unet", "base": 4, "depth": 2},
                "train": {"optimizer": "adam", "lr": 0.001, "epochs": 1, "batch_size": 8},
                "morph": {"method": method, "symmetry": sym, "resource": "flops", "threshold": 0.01,
                          "strength": 1e-6}},
        started_at="2024-01-02T03:04:05+00:00", ended_at="2024-01-02T03:09:05+00:00", env=ENV,
        extra={"profile": "quick", "stage_key": f"{stage}{it or ''}", "reused": False})


def write_fixture(root: Path, speed: float = 1.0) -> Path:
    """Suite "mini": MorphNet sym=0 (2 seeds, 2 iterations), sym=2 (1 seed; its expand failed) and the uniform
    baseline (2 seeds); suite "plain": a non-U-Net model (widths listed per layer)."""
    morph = [("base", None), ("learn", 1), ("shrink", 1), ("expand", 1), ("learn", 2), ("shrink", 2), ("expand", 2)]
    for seed in (0, 1):
        for stage, it in morph:
            write_record(root, make_record("mini", "method=morphnet,sym=0", seed, stage, it, speed=speed))
        for stage in ("base", "uniform"):
            write_record(root, make_record("mini", "method=uniform,sym=0", seed, stage, None, method="uniform",
                                           speed=speed))
    for stage, it in morph[:4]:
        write_record(root, make_record("mini", "method=morphnet,sym=2", 0, stage, it, sym=2, speed=speed,
                                       status="failed" if stage == "expand" else "ok"))
    plain = {"stem": 8, "block1": 16, "block2": 32}
    for stage, it in (("base", None), ("learn", 1), ("shrink", 1)):
        write_record(root, make_record("plain", "lr=0.1", 0, stage, it, base=plain, model={"name": "tiny_cnn"},
                                       speed=speed))
    return root


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "results")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run UPDATE_GOLDEN=1 pytest tests/bench -k report"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1)"


def test_report_matches_golden_files(results: Path, tmp_path: Path) -> None:
    written = write_reports(load_results(results), tmp_path / "reports")
    assert [p.name for p in written] == ["mini.md", "plain.md", "index.md"]
    for path in written:
        check_golden(path.name, path.read_text(encoding="utf-8"))


def test_report_renders_identical_bytes_twice(results: Path, tmp_path: Path) -> None:
    df = load_results(results)
    first, second = tmp_path / "r1", tmp_path / "r2"
    write_reports(df, first)
    write_reports(df, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    pngs = [f for f in files if f.suffix == ".png"]
    assert {f.name for f in pngs} == {"pareto.png", "method-morphnet-sym-0-widths.png",
                                      "method-morphnet-sym-0-gamma.png", "method-morphnet-sym-2-widths.png",
                                      "method-morphnet-sym-2-gamma.png", "lr-0-1-widths.png", "lr-0-1-gamma.png"}
    for f in files:
        assert (first / f).read_bytes() == (second / f).read_bytes(), f
    png = (first / pngs[0]).read_bytes()
    assert png.startswith(b"\x89PNG") and b"matplotlib" not in png.lower()
    md = (first / "mini.md").read_text(encoding="utf-8")
    assert all(f"]({f.as_posix()})" in md for f in pngs if f.parts[1] == "mini")


def test_stage_table_is_the_blogs_shape(results: Path) -> None:
    table = create_table("stages", load_results(results))
    assert list(table.columns) == ["Group", "Metric", "Base", "Shrunk", "Expanded", "Shrunk 1", "Expanded 1",
                                   "Uniform (same budget)"]
    sym0 = table[table["Group"] == "method=morphnet,sym=0"].set_index("Metric")
    assert list(sym0.index) == ["Parameters", "FLOPs", "Latency cpu b1 (ms)", "Train time (s)", "Train Acc.",
                                "Train Dice", "Val Acc.", "Val Dice", "Test Acc.", "Test Dice", "Runs (seeds)"]
    assert sym0.loc["Val Dice", "Base"] == "0.775 ± 0.064"  # 0.8 + 0.01 seed - 0.03, seeds 0 and 1; 12.706 · 0.005
    assert sym0.loc["Parameters", "Base"] == "3.68 k"  # 40 × 92 channels, the same for both seeds: no ±
    assert sym0.loc["Runs (seeds)", "Uniform (same budget)"] == "2"
    assert "method=uniform,sym=0" not in set(table["Group"])  # folded into the MorphNet group it matches
    sym2 = table[table["Group"] == "method=morphnet,sym=2"].set_index("Metric")
    assert sym2.loc["Val Dice", "Expanded"] == "failed" and sym2.loc["Val Dice", "Shrunk 1"] == ""


def test_widths_table_uses_unet_blocks_or_every_layer(results: Path) -> None:
    table = create_table("widths", load_results(results))
    unet = table[table["Group"] == "method=morphnet,sym=0"]
    assert list(unet["Layer"]) == ["First (enc0)", "Bottom (enc2)", "Second last (dec1)", "Last (dec0)"]
    assert unet.iloc[0]["Base"] == "4/4"
    plain = table[table["Group"] == "lr=0.1"]
    assert list(plain["Layer"]) == ["block1", "block2", "stem"] and plain.iloc[2]["Base"] == "8"


def test_stage_labels_and_layer_order() -> None:
    assert [stage_label("shrink", 1), stage_label("expand", 2), stage_label("base", None)] == [
        "Shrunk", "Expanded 1", "Base"]
    assert layer_order(list(UNET))[:6] == ["enc0.0", "enc0.1", "enc1.0", "enc1.1", "enc2.0", "enc2.1"]
    assert layer_order(list(UNET))[6:] == ["up1", "dec1.0", "dec1.1", "up0", "dec0.0", "dec0.1"]
    smp = ["segmentation_head.0", "decoder.blocks.0.conv1.0", "encoder.layer2.0.conv1", "encoder._blocks.10._se",
           "encoder._blocks.9._se", "encoder.conv1"]
    assert layer_order(smp) == ["encoder._blocks.9._se", "encoder._blocks.10._se", "encoder.conv1",
                                "encoder.layer2.0.conv1", "decoder.blocks.0.conv1.0", "segmentation_head.0"]
    assert {"stages", "widths", "setup", "summary"} <= set(table_names())


def test_uniform_match_is_what_the_uniform_stage_keys() -> None:
    from bench.methods import get_method

    spec = get_method("uniform").spec("uniform")
    assert set(UNIFORM_MATCH) == {r.removeprefix("morph.") for r in spec.reads if r.startswith("morph.")}
    # the settings uniform results were matched by before methods declared their stages (committed reports),
    # plus channel_divisor and budget_share (added later; absent from old records, which match as before)
    assert set(UNIFORM_MATCH) == {"budget", "expand_factor", "resource", "device_profile", "budget_by", "multiple",
                                  "min_width", "symmetry", "channel_divisor", "budget_share"}


def test_setup_table_names_machine_commit_and_packages(results: Path) -> None:
    setup = dict(create_table("setup", load_results(results)).values.tolist())
    assert setup["Device"].startswith("Test CPU (host testhost)") and setup["Threads"] == "latency 2; torch 2"
    assert setup["Git commit"] == "0123456789ab (dirty: False)" and "torch 2.0.0" in setup["Packages"]
    assert setup["Input size"].startswith("3×32×32")


def test_setup_table_states_the_evaluation_counts_per_profile() -> None:
    import pandas as pd

    from bench.store.loading import flatten_record

    def record(profile: str, val: int, test: int) -> dict:
        counts = {"val": {"correct": [1] * val, "total": [2] * val}, "test": {"correct": [0] * test,
                                                                           "total": [2] * test}}
        return flatten_record(StageRecord(case_id=profile, stage="base", extra={"profile": profile},
                                          per_image=counts))

    one = dict(create_table("setup", pd.DataFrame([record("quick", 128, 96)])).values.tolist())
    assert one["Evaluation images"] == "val 128, test 96"
    two = dict(create_table("setup", pd.DataFrame([record("quick", 128, 96), record("real", 5, 7)])).values.tolist())
    assert two["Evaluation images"] == "val 128, test 96 (quick); val 5, test 7 (real)"
    old = dict(create_table("setup", pd.DataFrame([{"case_id": "c", "stage": "base"}])).values.tolist())
    assert old["Evaluation images"] == "not recorded"


def test_cli_report_writes_folder_and_prints_without_out(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = runner.invoke(app, ["report", str(results), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "index.md").is_file() and (out / "figures" / "mini" / "pareto.png").is_file()
    printed = runner.invoke(app, ["report", str(results)])
    assert printed.exit_code == 0 and "# Suite `mini`" in printed.stdout and ".png" not in printed.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = runner.invoke(app, ["report", str(empty)])
    assert bad.exit_code == 2 and "no records found" in bad.stderr


def test_index_takes_extra_sections(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "blog_comparison.md").write_text("hand-written\n")
    write_reports(load_results(results), out, {"Notes": "Quick profile only."})
    index = (out / "index.md").read_text()
    assert "## Blog vs this run\n\nThe blog's published numbers" in index  # generated: beats the hand-written file
    assert "See [blog_comparison.md]" not in index
    assert index.endswith("## Notes\n\nQuick profile only.\n")


def test_compare_matches_golden_file(tmp_path: Path) -> None:
    from bench.report.render import compare_markdown

    a = load_results(write_fixture(tmp_path / "a"))
    b = load_results(write_fixture(tmp_path / "b", speed=0.5))
    a = a[(a["suite"] == "plain") | ((a["label"] == "method=morphnet,sym=2,seed=0") & (a["stage"] == "expand"))]
    b = b[b["suite"] == "plain"]
    check_golden("compare.md", compare_markdown(a, b, "results-a", "results-b"))


def test_morphnet_vs_uniform_section_by_hand(results: Path) -> None:
    """mini's sym=0 group: Expanded (iteration 2) val Dice 0.75/0.76 (seeds 0/1), uniform 0.775/0.785, so the
    paired Δ is −0.025 on both seeds: every bootstrap resample gives −0.025, the interval excludes 0 and the
    uniform baseline is ahead; P(MorphNet > uniform) = 0 of 2 seeds. sym=2's expand failed, so it has no row."""
    from bench.report._versus import render

    text = render(load_results(results))
    assert text is not None
    rows = [line for line in text.splitlines() if line.startswith("| mini")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[:3] == ["mini", "method=morphnet,sym=0", "dice"]
    assert cells[6:8] == ["-0.025 [-0.025, -0.025]", "0.00"]
    assert cells[10:12] == ["2×?", "uniform ahead"]
    assert "method ahead 0, uniform ahead 1, no difference shown 0, one seed (no verdict) 0" in text


def test_versus_flags_costs_not_budgeted() -> None:
    """Equal params, but MorphNet at 1.14 GFLOPs and 22.1 ms against 0.55 GFLOPs and 14.3 ms: both flagged
    (+107%, +55%); within 5% nothing is."""
    import pandas as pd

    from bench.report._versus import cost_flag

    m = pd.DataFrame({"flops": [1.14e9], "latency.cpu_b1.median_s": [0.0221]})
    u = pd.DataFrame({"flops": [0.55e9], "latency.cpu_b1.median_s": [0.0143]})
    assert cost_flag(m, u, "latency.cpu_b1.median_s") == "FLOPs +107%, latency +55%"
    assert cost_flag(u.assign(flops=0.56e9), u, "latency.cpu_b1.median_s") == ""


def test_layer_order_uses_the_recorded_order_and_guesses_for_old_records() -> None:
    import pandas as pd

    from bench.report._groups import recorded_order

    names = ["b.conv", "a.conv", "head"]
    assert layer_order(names) == ["a.conv", "b.conv", "head"]  # the guess: natural order
    rows = pd.DataFrame({"extra": [{}, {"layer_order": ["b.conv", "a.conv", "gone", "head"]}]})
    assert recorded_order(rows) == ["b.conv", "a.conv", "gone", "head"]
    assert layer_order(names + ["new"], recorded_order(rows)) == ["b.conv", "a.conv", "head", "new"]
    assert recorded_order(pd.DataFrame({"extra": [{}, None]})) is None


def test_profiles_other_than_quick_are_groups_of_their_own() -> None:
    """The quickstart's real_isbi cases carry the same labels as its quick ones: pooling them as seeds of one group
    would mix synthetic and real data."""
    import pandas as pd

    from bench.report._groups import prepare

    rows = pd.DataFrame({"label": ["method=morphnet,seed=0", "method=morphnet,seed=0", "method=morphnet,seed=1"],
                         "extra": [{"profile": "quick"}, {"profile": "real_isbi"}, {"profile": "real_isbi"}],
                         "stage": ["base"] * 3, "iteration": [None] * 3, "suite": ["q"] * 3})
    assert list(prepare(rows, attach_uniform=False)["group"]) == [
        "method=morphnet", "method=morphnet [real_isbi]", "method=morphnet [real_isbi]"]


def test_multi_class_groups_get_a_val_dice_row_per_class() -> None:
    import pandas as pd

    from bench.report.tables.stages import per_class_rows

    rows = pd.DataFrame({"metrics.val.dice": [0.5, 0.7], "metrics.val.dice_c10": [0.2, 0.4],
                         "metrics.val.dice_c2": [0.9, 0.9]})
    found = per_class_rows(rows)
    assert [name for name, _ in found] == ["Val Dice class 2", "Val Dice class 10"]  # numeric order
    assert found[0][1](rows) == "0.900" and found[1][1](rows).startswith("0.300 ± ")
    assert per_class_rows(rows[["metrics.val.dice"]]) == []  # binary records: no rows


def test_per_class_rows_are_named_by_the_records_class_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``data.class_names`` travels in each record's config (outside the case id) and names the per-class rows."""
    from bench.store import StageRecord
    from bench.store.loading import load_results
    from bench.store.archive import write_archives
    from bench.report.tables.stages import per_class_rows
    from bench.suite import CaseConfig
    from bench.suite.case import Case

    config = {"data": {"name": "synthetic_buildings", "class_names": ["sky", "road", "car"]},
              "model": {"name": "unet"}}
    named, plain = CaseConfig.model_validate(config), CaseConfig.model_validate(
        {**config, "data": {"name": "synthetic_buildings"}})
    assert Case.create("s", named, 0).id == Case.create("s", plain, 0).id  # labels change no result
    record = StageRecord(case_id="c", stage="base", suite="s", label="x,seed=0", seed=0, status="ok",
                         config=named.model_dump(mode="json"), metrics={"val": {"dice": 0.5, "dice_c0": 0.9,
                                                                                  "dice_c2": 0.1, "dice_c3": 0.4}})
    write_archives([record], tmp_path)
    rows = load_results(tmp_path)
    assert [n for n, _ in per_class_rows(rows)] == ["Val Dice sky (0)", "Val Dice car (2)", "Val Dice class 3"]
    with pytest.raises(ValueError, match="distinct"):
        CaseConfig.model_validate({**config, "data": {"name": "synthetic_buildings", "class_names": ["a", "a"]}})
