"""Fuzzing the CLI's input boundary (issue 13): random TOML documents and random bytes to `bench validate`, random
record files to `bench report`. Every answer is exit 0 or 2, a few lines, never a traceback. No training."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(["name", "seeds", "data", "model", "train", "morph", "measure", "matrix", "profiles", "count",
                        "size", "base", "depth", "lr", "epochs", "budget", "symmetry", "exclude", "include",
                        "device_profile", "monitor", "encoder", "path", "x"])
SCALARS = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["unet", "synthetic_buildings", "quick", "H200", "dice"]),
                    st.sampled_from([float("inf"), float("-inf"), float("nan"), 0, -1, 0.0, 1e308, 2**63]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
BASE = {"name": "fuzz", "data": {"name": "synthetic_buildings", "count": 8, "size": 32},
        "model": {"name": "unet", "base": 4, "depth": 2}}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == float("-inf")
                                             else repr(value))
    if isinstance(value, (int, str)):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"


def _document(table: dict[str, object]) -> str:
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in table.items())


def _check(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line]
        assert 1 <= len(lines) <= 12 and all(line.startswith(("error: ", "warning: ")) for line in lines), \
            result.stderr


@FUZZ
@given(st.dictionaries(KEYS, VALUES, max_size=6), st.booleans())
def test_random_toml_documents_validate_cleanly(table: dict[str, object], over_base: bool) -> None:
    document = {**BASE, **table} if over_base else table
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(_document(document), encoding="utf-8")
        _check(["validate", str(path)])


SETTINGS = {"data": ["count", "size", "name"], "model": ["base", "depth", "classes", "encoder", "name"],
            "train": ["lr", "epochs", "batch_size", "monitor", "loss", "momentum"],
            "morph": ["strength", "budget", "expand_factor", "symmetry", "device_profile", "target_cost", "method"],
            "measure": ["batch_sizes", "input_size", "min_time_s", "warmup"]}
SECTION = st.sampled_from(sorted(SETTINGS)).flatmap(
    lambda name: st.tuples(st.just(name), st.dictionaries(st.sampled_from(SETTINGS[name]), SCALARS, max_size=2)))


@FUZZ
@given(st.lists(SECTION, max_size=3))
@example([("train", {"lr": float("inf")})])  # found by a person (issue 13): crashed validate, list and run
@example([("morph", {"expand_factor": 1e308})])
def test_random_values_of_real_settings_validate_cleanly(sections: list[tuple[str, dict[str, object]]]) -> None:
    document: dict[str, object] = json.loads(json.dumps(BASE))
    for name, values in sections:
        document[name] = {**document.get(name, {}), **values}  # type: ignore[dict-item]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(_document(document), encoding="utf-8")
        _check(["validate", str(path)])


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_validate_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_bytes(data)
        _check(["validate", str(path)])


RECORD_FIELDS = st.dictionaries(
    st.sampled_from(["case_id", "stage", "status", "suite", "label", "iteration", "seed", "error", "widths", "params",
                     "metrics", "config", "extra", "schema_version", "latency", "history", "bogus"]),
    VALUES, max_size=8)


@FUZZ
@given(st.one_of(st.binary(max_size=300), RECORD_FIELDS.map(lambda d: json.dumps({"schema_version": 1, **d},
                                                                                    default=str).encode())),
       st.booleans())
def test_random_record_files_report_cleanly(content: bytes, as_archive: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        target = results / ("s.jsonl" if as_archive else "c1/base.json")
        target.parent.mkdir(parents=True)
        target.write_bytes(content)
        _check(["report", str(results)])
        _check(["report", str(results), "--out", str(Path(tmp) / "out")])
