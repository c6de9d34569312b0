"""Result records: atomic writes, round trips, loading several folders, versions, resume rules, checkpoints."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.store import (
    SCHEMA_VERSION, StageRecord, environment, has_checkpoint, load_checkpoint, load_results, machine_id,
    read_record, record_path, record_statuses, save_checkpoint, should_run, utc_now, write_record,
)
from bench.store._atomic import atomic_write, temp_path


def record(case_id: str = "a3f9c1e2b7d4", stage: str = "retrain", **kw: object) -> StageRecord:
    base = dict(
        suite="sym", label="sym=1,seed=0", seed=0, widths={"enc0.0": 8, "enc0.1": 6}, params=1234, macs=5000,
        latency={"cpu_b1": {"median_s": 0.01, "samples_s": [0.01, 0.011], "threads": 2}},
        metrics={"val": {"dice": 0.8}, "test": {"dice": 0.75}}, history={"reg_cost": [3.0, 2.0]},
        histogram={"of": "gamma", "edges": [0.0, 0.5, 1.0], "counts": [3, 5]},
        config={"morph": {"symmetry": 1}}, started_at=utc_now(), env={"hostname": "h", "torch": "2"},
    )
    base.update(kw)
    return StageRecord(case_id, stage, **base)  # type: ignore[arg-type]


def test_round_trip_and_flops_default(tmp_path: Path) -> None:
    rec = record()
    path = write_record(tmp_path, rec)
    assert path == tmp_path / "a3f9c1e2b7d4" / "retrain.json" == record_path(tmp_path, rec.case_id, rec.stage)
    again = read_record(path)
    assert again == rec and again.flops == 2 * 5000
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_iterations_get_their_own_file(tmp_path: Path) -> None:
    assert write_record(tmp_path, record(stage="learn", iteration=2)).name == "learn-it2.json"


def test_interrupted_write_leaves_nothing_readable(tmp_path: Path) -> None:
    write_record(tmp_path, record(case_id="c1"))
    # simulate a crash after the temp file was written but before os.replace
    tmp = temp_path(record_path(tmp_path, "c2", "retrain"))
    tmp.write_text(json.dumps(record(case_id="c2").to_dict())[:40])
    frame = load_results(tmp_path)
    assert list(frame["case_id"]) == ["c1"]
    assert record_statuses(tmp_path) == {("c1", "retrain", None): "ok"}
    assert not record_path(tmp_path, "c2", "retrain").exists()


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = write_record(tmp_path, record())

    def crash(tmp: Path) -> None:
        tmp.write_text("{partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert [p.name for p in path.parent.iterdir()] == ["retrain.json"]
    assert read_record(path) == record(started_at=read_record(path).started_at)


def test_load_results_is_tidy_and_unions_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_record(a, record(case_id="c1"))
    write_record(a, record(case_id="c1", stage="base", status="diverged", error="loss is nan"))
    write_record(b, record(case_id="c2", status="failed", error="boom", metrics={}))
    shared = record(case_id="c3")
    write_record(a, shared)
    write_record(b, shared)  # the same record in both folders counts once
    frame = load_results([a, b])
    assert len(frame) == 4
    assert list(frame.columns[:7]) == ["case_id", "suite", "label", "stage", "iteration", "status", "seed"]
    row = frame[(frame.case_id == "c1") & (frame.stage == "retrain")].iloc[0]
    assert row["metrics.val.dice"] == 0.8 and row["config.morph.symmetry"] == 1 and row["env.hostname"] == "h"
    assert row["latency.cpu_b1.median_s"] == 0.01 and row["latency.cpu_b1.samples_s"] == [0.01, 0.011]
    assert row["widths"] == {"enc0.0": 8, "enc0.1": 6} and row["flops"] == 10000
    assert sorted(frame.status) == ["diverged", "failed", "ok", "ok"]


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    assert len(load_results(tmp_path)) == 0
    with pytest.raises(BenchError, match="expected an existing results folder"):
        load_results(tmp_path / "nope")
    assert record_statuses(tmp_path / "nope") == {}


def test_newer_schema_version_is_one_line_error(tmp_path: Path) -> None:
    path = write_record(tmp_path, record())
    data = json.loads(path.read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(BenchError) as info:
        load_results(tmp_path)
    assert "\n" not in str(info.value)
    assert str(info.value) == (
        f"{path}: schema_version: expected ≤ {SCHEMA_VERSION} (got {SCHEMA_VERSION + 1}); written by a newer morph-bench"
    )


def test_corrupt_file_is_one_line_error(tmp_path: Path) -> None:
    path = record_path(tmp_path, "c1", "base")
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(BenchError, match=r"base.json: line 1, column 2: invalid JSON"):
        read_record(path)


def test_statuses_and_resume_rules(tmp_path: Path) -> None:
    write_record(tmp_path, record(case_id="c1"))
    write_record(tmp_path, record(case_id="c2", status="failed"))
    write_record(tmp_path, record(case_id="c3", status="diverged", stage="learn", iteration=1))
    statuses = record_statuses(tmp_path)
    assert statuses == {("c1", "retrain", None): "ok", ("c2", "retrain", None): "failed",
                        ("c3", "learn", 1): "diverged"}
    assert [should_run(statuses.get(k)) for k in [("c1", "retrain", None), ("c2", "retrain", None), ("c9", "x", None)]] \
        == [False, False, True]
    assert should_run("failed", retry_failed=True) and not should_run("diverged", retry_failed=True)
    assert should_run("ok", force=True) and should_run("diverged", force=True)


def test_bad_record_fields() -> None:
    with pytest.raises(ValueError, match="status"):
        record(status="weird")
    with pytest.raises(ValueError, match="stage"):
        record(stage="../x")


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    assert not has_checkpoint(tmp_path, "k1")
    folder = save_checkpoint(tmp_path, "k1", net.state_dict(), {"0": 4}, {"epochs": 2})
    assert sorted(p.name for p in folder.iterdir()) == ["weights.safetensors", "widths.json"]
    ck = load_checkpoint(tmp_path, "k1")
    assert ck.widths == {"0": 4} and ck.metadata == {"epochs": 2}
    assert ck.state_dict.keys() == net.state_dict().keys()
    assert all(torch.equal(ck.state_dict[k], v) for k, v in net.state_dict().items())


def test_half_written_checkpoint_is_not_a_checkpoint(tmp_path: Path) -> None:
    folder = save_checkpoint(tmp_path, "k1", {"w": torch.ones(2)}, {"a": 2})
    (folder / "widths.json").unlink()  # the commit marker goes last
    assert not has_checkpoint(tmp_path, "k1")
    with pytest.raises(BenchError, match="expected a checkpoint"):
        load_checkpoint(tmp_path, "k1")


def test_shared_tensors_are_saved(tmp_path: Path) -> None:
    w = torch.ones(4)
    save_checkpoint(tmp_path, "k", {"a": w, "b": w[:2]}, {})
    assert torch.equal(load_checkpoint(tmp_path, "k").state_dict["b"], torch.ones(2))


def test_environment_has_the_fields_reports_need() -> None:
    env = environment()
    for key in ("git_commit", "git_dirty", "packages", "python", "device", "cuda", "cudnn", "cpu", "torch_threads",
                "hostname"):
        assert key in env
    assert env["packages"]["torch"] == torch.__version__.split("+")[0] or env["packages"]["torch"]
    json.dumps(env)
    assert machine_id({"hostname": "Node 7", "device": "NVIDIA H100"}) == "node-7-nvidia-h100"


def test_environment_names_the_math_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed from torch.__config__.show(): the lines of a MKL + oneDNN build, and of an OpenBLAS one."""
    env_module = importlib.import_module("bench.store.environment")

    mkl = ("  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64\n"
           "  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71)\n  - OpenMP 201511 (a.k.a. OpenMP 4.5)\n"
           "  - Build settings: BLAS_INFO=mkl, LAPACK_INFO=mkl, TORCH_VERSION=2.14.1")
    blas = "  - OpenBLAS 0.3.27\n  - Build settings: BLAS_INFO=open, LAPACK_INFO=open"
    for text, expected in ((mkl, {"mkl": "2024.2-Product Build 20240605", "onednn": "v3.12.0 (Git Hash 80afa71)",
                                  "openmp": "201511", "openblas": None, "blas": "mkl", "lapack": "mkl"}),
                           (blas, {"mkl": None, "onednn": None, "openmp": None, "openblas": "0.3.27",
                                   "blas": "open", "lapack": "open"})):
        env_module.math_libraries.cache_clear()
        monkeypatch.setattr(torch.__config__, "show", lambda text=text: text)
        assert env_module.math_libraries() == expected
    env_module.math_libraries.cache_clear()


def test_records_follow_the_umask_like_plain_files(tmp_path: Path) -> None:
    """mkstemp's temp files are 0600; a record must be as readable as a file open() would create."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = write_record(tmp_path, StageRecord(case_id="c", stage="base"))
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644
