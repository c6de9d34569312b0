"""Issue 13: every bad input is one line and exit 2, one bad case or file stops nothing else, nothing is written
outside the folder the user named, and finished stages are never reused for other data."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from bench.pipeline import plan_case, runner as pipeline_runner
from bench.store import STAGE_CACHE
from bench.store import StageRecord, save_checkpoint, write_record
from bench.suite import load_suite
from tests.bench.conftest import small_suite

runner = CliRunner()

GOOD = small_suite("hard")


def one_line_error(result: object, *needles: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    lines = [line for line in result.stderr.splitlines() if line]  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- 5. validation that really checks ---------------------------------------------------------------------------

INVALID = {
    "inf lr": ("[train]\nlr = inf\n", "train.lr: expected a finite number"),
    "nan budget": ("[morph]\nbudget = nan\n", "morph.budget: expected a finite number"),
    "inf builder argument": ("", "data.size: expected a finite number", ("size = 32", "size = inf")),
    "device profile typo": ('[morph]\ndevice_profile = "H20"\n', "did you mean 'H200'"),
    "monitor typo": ('[train]\nmonitor = "dise"\n', "train.monitor: unknown metric 'dise'; did you mean 'dice'"),
    "unet base 0": ("", "model.base: expected a value > 0 (got 0)", ("base = 4", "base = 0")),
    "count of wrong type": ("", "data.count: expected int", ("count = 8", 'count = "abc"')),
    "every combination excluded": ('[matrix]\n"morph.symmetry" = [1]\nexclude = [{ "morph.symmetry" = 1 }]\n',
                                   "matrix.exclude: removes every combination"),
    "pretrained weights": ("", "need a download", ('name = "unet"\nbase = 4\ndepth = 2',
                                                   'name = "smp_unet"\nencoder_weights = "imagenet"')),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_validation_rejects_suites_that_cannot_run(tmp_path: Path, case: str) -> None:
    extra, needle, *swap = INVALID[case]
    text = GOOD + extra
    for old, new in swap:
        text = text.replace(old, new)
    suite = tmp_path / "s.toml"
    suite.write_text(text)
    one_line_error(runner.invoke(app, ["validate", str(suite)]), str(suite), needle)


# --- 8. tracebacks to one line ----------------------------------------------------------------------------------

def _suite_paths(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    (binary := tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    (latin := tmp_path / "latin.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    (nested := tmp_path / "nested.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    return {"folder": folder, "binary": binary, "latin-1": latin, "nested": nested}


@pytest.mark.parametrize("kind", ["folder", "binary", "latin-1", "nested"])
@pytest.mark.parametrize("command", ["validate", "list", "run"])
def test_unreadable_suite_files_are_one_line(tmp_path: Path, kind: str, command: str) -> None:
    path = _suite_paths(tmp_path)[kind]
    args = [command, str(path)] + (["--results", str(tmp_path / "r")] if command != "validate" else [])
    one_line_error(runner.invoke(app, args), str(path))


@pytest.mark.parametrize(("spec", "options", "needle"), [
    ("unet:base=4", ["--input", "3x7x7"], "cannot run on --input 3x7x7"),
    ("unet:classes=0", [], "classes: expected a value > 0"),
    ("smp_unet:encoder_weights=imagenet", [], "never does"),
])
def test_bench_model_bad_arguments_are_one_line(spec: str, options: list[str], needle: str) -> None:
    one_line_error(runner.invoke(app, ["model", spec, *options]), needle)


def test_output_paths_that_cannot_be_written_are_one_line(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(GOOD)
    (a_file := tmp_path / "file").write_text("x")
    one_line_error(runner.invoke(app, ["run", str(suite), "-r", str(a_file)]), "expected a folder")
    record = StageRecord(case_id="c1", stage="base", suite="s")
    write_record(tmp_path / "res", record)
    one_line_error(runner.invoke(app, ["report", str(tmp_path / "res"), "--out", str(a_file)]), "expected a folder")
    one_line_error(runner.invoke(app, ["report", str(tmp_path / "res"), "--out", str(a_file / "sub")]), "is a file")
    one_line_error(runner.invoke(app, ["compare", str(tmp_path / "res"), str(tmp_path / "res"), "--out",
                                       str(tmp_path)]), "got a folder")
    deep = runner.invoke(app, ["compare", str(tmp_path / "res"), str(tmp_path / "res"), "--out",
                               str(tmp_path / "new" / "deeper" / "c.md")])
    assert deep.exit_code == 0 and (tmp_path / "new" / "deeper" / "c.md").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_results_folder_is_one_line(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(GOOD)
    results = tmp_path / "r"
    results.mkdir()
    results.chmod(0o500)
    try:
        one_line_error(runner.invoke(app, ["run", str(suite), "-r", str(results)]), "not writable")
    finally:
        results.chmod(0o700)


def _images(root: Path, shapes: list[tuple[int, ...]]) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, shape in enumerate(shapes):
        Image.fromarray(np.full(shape, 40 * i, np.uint8)).save(root / "images" / f"img{i}.png")
        mask = np.zeros(shape[:2], np.uint8)
        mask[:, : shape[1] // 2] = 255
        Image.fromarray(mask).save(root / "masks" / f"img{i}.png")
    return root


@pytest.mark.parametrize(("shapes", "needle"), [
    ([(16, 16, 3), (16, 16, 3), (16, 16), (16, 16, 3)], "img2.png: 1 channel(s) where img0.png has 3"),
    ([(16, 16, 3), (16, 16, 3), (16, 24, 3), (16, 16, 3)], "img2.png: size 16x24 differs from img0.png"),
])
def test_mixed_images_in_a_folder_name_the_file(tmp_path: Path, shapes: list[tuple[int, ...]], needle: str) -> None:
    from bench.data import create_dataset
    from bench.errors import DataError

    root = _images(tmp_path / "set", shapes)
    with pytest.raises(DataError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        create_dataset("folder", root=str(root), val_fraction=0.25)


# --- 1. no writes outside --out ----------------------------------------------------------------------------------

@pytest.mark.parametrize("suite_name", ["../../elsewhere/x", "/abs/olute", "..", "a/b"])
def test_report_refuses_record_suites_that_leave_out(tmp_path: Path, suite_name: str) -> None:
    results, out = tmp_path / "results", tmp_path / "a" / "b" / "out"
    write_record(results, StageRecord(case_id="c1", stage="base", suite=suite_name))
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    one_line_error(runner.invoke(app, ["report", str(results), "--out", str(out)]), "record suite")
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before  # nothing written anywhere


# --- 4. corrupt stores ---------------------------------------------------------------------------------------------

def test_corrupt_record_is_skipped_with_one_warning(tmp_path: Path) -> None:
    results = tmp_path / "r"
    write_record(results, StageRecord(case_id="good", stage="base", suite="s", status="failed", error="boom: x"))
    bad = results / "bad" / "base.json"
    bad.parent.mkdir()
    bad.write_bytes(bytes(range(256)) * 4)
    shown = runner.invoke(app, ["report", str(results)])
    assert shown.exit_code == 0, shown.output
    warnings = [line for line in shown.stderr.splitlines() if line]
    assert len(warnings) == 1 and str(bad) in warnings[0] and warnings[0].startswith("warning: ")
    shown = runner.invoke(app, ["show", "good", "-r", str(results)])
    assert shown.exit_code == 0 and "boom: x" in shown.stdout and "--retry-failed" in shown.stdout  # 6. reasons
    listed = runner.invoke(app, ["show", "bad", "-r", str(results)])
    one_line_error(listed, "no readable records")


def test_list_skips_a_corrupt_record_of_a_suite_case(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(GOOD)
    case_id = load_suite(suite).cases()[0].id
    bad = tmp_path / "r" / case_id / "base.json"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\xff\xfe" + bytes(range(200)))
    listed = runner.invoke(app, ["list", str(suite), "-r", str(tmp_path / "r")])
    assert listed.exit_code == 0 and f"{case_id}  todo" in listed.stdout, listed.output
    warnings = [line for line in listed.stderr.splitlines() if line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ") and f"delete {bad}" in warnings[0]


def test_corrupt_checkpoint_is_skipped_and_the_stage_redone(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(GOOD)
    stage = plan_case(load_suite(suite).cases()[0])[0]
    folder = save_checkpoint(tmp_path / STAGE_CACHE, stage.key, {}, {"a": 1})
    (folder / "weights.safetensors").write_bytes(b"\x00garbage")
    assert pipeline_runner._cached(tmp_path, stage) is None  # old code: a traceback from safetensors


# --- 9. permissions and silent fallbacks ---------------------------------------------------------------------------

def test_weights_follow_the_umask_like_records(tmp_path: Path) -> None:
    import torch

    old = os.umask(0o022)
    try:
        folder = save_checkpoint(tmp_path, "k", {"w": torch.ones(2)}, {"a": 1})
        record = write_record(tmp_path, StageRecord(case_id="c", stage="base"))
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (folder / "weights.safetensors", folder / "widths.json", record)}
    assert modes == {0o644}


def test_slurm_without_slurm_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("submitit", reason="submitit is an optional extra: pip install 'morph-bench[slurm]'")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch
    suite = tmp_path / "s.toml"
    suite.write_text(GOOD)
    one_line_error(runner.invoke(app, ["run", str(suite), "-r", str(tmp_path / "r"), "--executor", "slurm"]),
                   "no Slurm on this machine")
    assert not list((tmp_path / "r").rglob("*.json"))


# --- 3, 6, 10, 2, 7: a suite whose first case fails at run time ---------------------------------------------------

FOLDER_SUITE = """
name = "folderset"
seeds = [0]
[data]
name = "folder"
path = "set"
val_fraction = 0.25
[model]
name = "unet"
base = 2
depth = 1
[train]
epochs = 1
batch_size = 2
[morph]
method = "uniform"
expand_factor = 1.5
[measure]
warmup = 0
min_runs = 1
min_time_s = 0.0
[matrix]
"data.stem_regex" = ["(", "^(img.*)$"]
"""


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    tmp = tmp_path_factory.mktemp("folder_run")
    _images(tmp / "set", [(16, 16, 3)] * 4)
    suite = tmp / "s.toml"
    suite.write_text(FOLDER_SUITE)
    results = tmp / "r"
    return suite, results, runner.invoke(app, ["run", str(suite), "-r", str(results)])


def test_a_case_that_raises_anything_is_a_failure_record_and_the_suite_goes_on(folder_run: tuple) -> None:
    suite, results, first = folder_run
    assert first.exit_code == 1, first.output
    assert "Traceback" not in first.output and "1/2 cases ok" in first.stdout
    failed = [json.loads(p.read_text()) for p in results.glob("*/base.json")]
    errors = [r["error"] for r in failed if r["status"] == "failed"]
    assert len(errors) == 1 and "\n" not in errors[0] and "error" in errors[0]  # re.error: missing ), ...
    assert any(errors[0] in line and "base: failed" in line for line in first.stderr.splitlines())  # 6. reason


def test_off_a_terminal_each_finished_stage_prints_one_line(folder_run: tuple) -> None:
    _, _, first = folder_run
    lines = [line for line in first.stderr.splitlines() if ": ok" in line]
    assert [line.split()[2] for line in lines] == ["base:", "uniform:"], first.stderr
    assert all(line.rstrip().endswith("s") and "val_dice" in line for line in lines)


def test_a_replayed_failure_hints_at_retry_failed(folder_run: tuple) -> None:
    suite, results, _ = folder_run
    again = runner.invoke(app, ["run", str(suite), "-r", str(results)])
    assert again.exit_code == 1 and "--retry-failed" in again.stderr


def test_other_data_in_the_same_results_folder_is_refused(folder_run: tuple, tmp_path: Path) -> None:
    suite, results, _ = folder_run
    other = _images(tmp_path / "other", [(16, 16, 3)] * 5)
    moved = runner.invoke(app, ["run", str(suite), "-r", str(results), "--data-path", str(other)])
    one_line_error(moved, "was computed from data", str(other.resolve()))


def test_a_second_run_waits_for_the_stage_lock_and_reuses_the_product(folder_run: tuple, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    suite, results, _ = folder_run
    case = [c for c in load_suite(suite).cases() if c.config.data.kwargs["stem_regex"] != "("][0]
    mine = tmp_path / "r2"
    held, events = threading.Event(), []

    def other_run() -> None:  # holds the base stage's lock while it "computes" it
        with pipeline_runner.stage_lock(mine / STAGE_CACHE, plan_case(case)[0].key):
            held.set()
            threading.Event().wait(1.0)
            shutil.copytree(results / STAGE_CACHE, mine / STAGE_CACHE, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.lock"))

    thread = threading.Thread(target=other_run)
    thread.start()
    held.wait(10)
    options = pipeline_runner.RunOptions(progress=False, on_stage=lambda e: events.append((e.stage.name, e.status)))
    status = pipeline_runner.run_case(case, mine, options)
    thread.join()
    assert status == "ok" and ("base", "reused") in events and ("base", "running") not in events
    assert "waiting for it" in capsys.readouterr().err


def test_parallel_runs_print_the_reason_too(folder_run: tuple, tmp_path: Path) -> None:
    suite, _, _ = folder_run
    bad = [c for c in load_suite(suite).cases() if c.config.data.kwargs["stem_regex"] == "("][0]
    result = runner.invoke(app, ["run", str(suite), "-r", str(tmp_path / "r"), "-j", "2", "--only", bad.id])
    assert result.exit_code == 1, result.output
    assert any(line.startswith(f"{bad.id} {bad.label}: failed at base (") for line in result.stderr.splitlines()), \
        result.stderr


def test_verbose_off_a_terminal_prints_one_line_per_epoch(folder_run: tuple, tmp_path: Path) -> None:
    suite, _, _ = folder_run
    good = [c for c in load_suite(suite).cases() if c.config.data.kwargs["stem_regex"] != "("][0]
    result = runner.invoke(app, ["run", str(suite), "-r", str(tmp_path / "r"), "-v", "--only", good.id])
    assert result.exit_code == 0, result.output
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch 1/1  loss ")]
    assert len(epochs) == 2, result.stderr  # base training and the uniform baseline's, one epoch each
