"""The CLI's contract: exit codes 0/1/2 and one line per problem, never a traceback for the user's mistakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()

GOOD = """
name = "cli"
seeds = [0]
[data]
name = "synthetic_buildings"
count = 8
size = 32
[model]
name = "unet"
base = 4
depth = 2
"""
BAD = {
    "toml syntax": (GOOD + "[train\nepochs = 1\n", "line 12, column 7"),
    "unknown key": (GOOD + "[train]\nepoch = 3\n", "train.epoch"),
    "wrong type": (GOOD + '[train]\nlr = "fast"\n', "train.lr"),
    "unknown model": (GOOD.replace('name = "unet"', 'name = "unte"'), "model.name"),
    "unknown encoder": (GOOD.replace('name = "unet"\nbase = 4\ndepth = 2', 'name = "smp_unet"\nencoder = "resnet19"'),
                        "model.encoder"),
    "unknown data set": (GOOD.replace('"synthetic_buildings"', '"synthetic_building"'), "data.name"),
    "exclude matches nothing": (GOOD + '[matrix]\n"morph.symmetry" = [1, 2]\nexclude = [{ "morph.symmetry" = 3 }]\n',
                                "matrix.exclude[0]"),
    "missing data path": (GOOD.replace('name = "synthetic_buildings"\ncount = 8\nsize = 32', 'name = "inria"'),
                          "data.path"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["validate", "run", "list"])
def test_bad_suites_exit_2_with_one_line_per_problem(tmp_path: Path, case: str, command: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MORPH_BENCH_DATA_INRIA", raising=False)
    text, where = BAD[case]
    suite = tmp_path / "bad.toml"
    suite.write_text(text)
    result = runner.invoke(app, [command, str(suite), "--results", str(tmp_path / "r")] if command != "validate"
                           else [command, str(suite)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines and all(line.startswith(f"error: {suite}") for line in lines), result.stderr
    assert any(where in line for line in lines), (where, result.stderr)
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_validate_ok(tmp_path: Path) -> None:
    suite = tmp_path / "good.toml"
    suite.write_text(GOOD)
    result = runner.invoke(app, ["validate", str(suite)])
    assert result.exit_code == 0 and "ok, 1 cases" in result.stdout


def test_run_exit_codes_and_list_status(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    suite = make_tiny(extra='include = [{ "morph.method" = "morphnet", "morph.symmetry" = 0, '
                            '"morph.resource" = "params", "morph.budget" = 10.0 }]')
    results = tmp_path / "results"
    first = runner.invoke(app, ["run", str(suite), "--results", str(results), "--no-progress"])
    assert first.exit_code == 1, first.output
    assert "2/3 cases ok" in first.stdout
    listed = runner.invoke(app, ["list", str(suite), "--results", str(results)])
    assert sorted(line.split()[1] for line in listed.stdout.splitlines()) == ["done", "done", "failed"]
    ok_id = next(line.split()[0] for line in listed.stdout.splitlines() if "method=uniform" in line)
    only = runner.invoke(app, ["run", str(suite), "--results", str(results), "--only", ok_id, "--no-progress"])
    assert only.exit_code == 0, only.output
    shown = runner.invoke(app, ["show", ok_id, "--results", str(results), "--json"])
    assert [r["stage"] for r in json.loads(shown.stdout)] == ["base", "uniform"]
    report = runner.invoke(app, ["report", str(results)])
    assert report.exit_code == 0 and "| Case" in report.stdout


def test_model_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = runner.invoke(app, ["model", "unet:base=16", "--input", "3x64x64", "--json"])
    info = json.loads(result.stdout)
    assert info["params"] == 1_944_049 and info["flops"] == 2 * info["macs"]
    assert info["widths"]["enc4.1"] == 256
    bad = runner.invoke(app, ["model", "unet:bse=16"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: model 'unet'")
    shape = runner.invoke(app, ["model", "unet", "--input", "3x64"])
    assert shape.exit_code == 2 and "CxHxW" in shape.stderr


def test_unknown_case_id(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    result = runner.invoke(app, ["show", "abc", "--results", str(tmp_path / "r")])
    assert result.exit_code == 2 and "expected one case, found no case" in result.stderr
