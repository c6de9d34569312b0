"""Parallel executors give a serial run's results: local worker processes, Ray, and submitit (Slurm's code path)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench import api
from bench.executors import EXECUTORS, JobOptions, get_executor, group_cases, needs_run
from bench.executors.base import available_cores
from bench.executors.local import LocalExecutor
from bench.executors.slurm import CaseJob, SlurmExecutor
from bench.errors import BenchError
from bench.pipeline import plan_case
from bench.store import load_results
from bench.suite import load_suite

TWO_BASES = '"train.lr" = [1e-3, 3e-3]'  # two base trainings → two jobs of three cases each
COMPARED = ("status", "metrics", "widths", "params", "flops", "macs")
_SERIAL: dict[str, Path] = {}


def records(results: Path) -> dict[tuple[str, str, Any], dict[str, Any]]:
    out = {}
    for path in load_results(results)["path"]:
        rec = json.loads(Path(path).read_text())
        out[(rec["case_id"], rec["stage"], rec["iteration"])] = rec
    return out


def assert_same_as_serial(results: Path, serial: Path, *, subset: bool = False) -> None:
    """Every record of ``results`` equals the serial run's (all of them unless ``subset``) in what it measured."""
    got, want = records(results), records(serial)
    if subset:
        want = {k: v for k, v in want.items() if k[0] in {g[0] for g in got}}
    assert got.keys() == want.keys()
    for key, rec in want.items():
        for field in COMPARED:
            assert got[key][field] == rec[field], (key, field)
        if not subset:  # the same case computed each shared stage, the others reused it
            assert got[key]["extra"]["reused"] == rec["extra"]["reused"], key


@pytest.fixture
def two_bases(make_tiny: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny suite with two base trainings, and its serial results (computed once per session)."""
    suite = make_tiny(extra=TWO_BASES)
    text = suite.read_text()
    if text not in _SERIAL:
        serial = tmp_path_factory.mktemp("serial") / "results"
        assert api.run_suite(suite, results=serial, progress=False).exit_code == 0
        _SERIAL[text] = serial
    return suite, _SERIAL[text]


def test_groups_keep_every_shared_stage_in_one_job(make_tiny: Callable[..., Path]) -> None:
    cases = load_suite(make_tiny(extra=TWO_BASES)).cases()
    groups = group_cases([c.to_dict() for c in cases])
    assert [len(g) for g in groups] == [3, 3]
    order = [c.id for c in cases]
    positions = [[order.index(d["id"]) for d in g] for g in groups]
    assert all(p == sorted(p) for p in positions) and positions[0][0] == 0  # suite order, as a serial run
    keys = [{s.key for d in g for s in plan_case(next(c for c in cases if c.id == d["id"]))} for g in groups]
    assert not keys[0] & keys[1]  # keys chain through parents: no stage is shared across jobs


def test_a_group_splits_into_a_lead_and_followers_that_share_no_later_stage(make_tiny: Callable[..., Path]) -> None:
    from bench.executors.base import split_group

    cases = load_suite(make_tiny()).cases()  # morphnet sym 0 and 2 (one learn run), uniform: one base
    [group] = group_cases([c.to_dict() for c in cases])
    lead, followers = split_group(group)
    plans = {c.id: plan_case(c) for c in cases}
    assert [d["id"] for d in lead] == [cases[0].id]
    assert [[d["id"] for d in job] for job in followers] == [[cases[1].id], [cases[2].id]]
    # only the base is shared between jobs; it is the lead's first stage, computed before any follower starts
    shared = {s.key for s in plans[cases[1].id]} & {s.key for s in plans[cases[2].id]}
    assert shared == {plans[cases[0].id][0].key}


def test_followers_that_reuse_the_leads_learn_run_run_side_by_side(tmp_path: Path) -> None:
    """Four symmetry levels share one base and one learn run (as suites/symmetry.toml): the lead computes both,
    then the other three levels are three jobs, not one (each computes only its own shrink and expand)."""
    from bench.executors.base import split_group
    from tests.bench.conftest import TINY

    text = TINY.format(learn_epochs=1, extra="").split("[matrix]")[0] + '[matrix]\n"morph.symmetry" = [0, 1, 2, 3]\n'
    (tmp_path / "sym.toml").write_text(text)
    cases = load_suite(tmp_path / "sym.toml").cases()
    [group] = group_cases([c.to_dict() for c in cases])
    lead, followers = split_group(group)
    assert [d["id"] for d in lead] == [cases[0].id]
    assert [[d["id"] for d in job] for job in followers] == [[c.id] for c in cases[1:]]
    lead_keys = {s.key for s in plan_case(cases[0])}
    new = [{s.key for s in plan_case(c)} - lead_keys for c in cases[1:]]
    assert all(len(k) == 2 for k in new) and not set.intersection(*new)  # shrink and expand, none shared


def test_local_plan_splits_cores_and_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = available_cores()
    assert LocalExecutor(jobs=2).plan(n_groups=5, device="cpu") == (2, max(1, cores // 2), None)
    assert LocalExecutor(jobs=4).plan(n_groups=1, device="cpu") == (1, cores, None)  # one job: all cores
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,6")
    assert LocalExecutor(jobs=2).plan(n_groups=4, device="cuda")[::2] == (2, ["3", "5"])
    assert LocalExecutor(jobs=8).plan(n_groups=4, device="cuda")[::2] == (3, ["3", "5", "6"])  # one per GPU


def test_jobs_2_equals_serial_and_records_worker_threads(two_bases: tuple[Path, Path], tmp_path: Path) -> None:
    suite, serial = two_bases
    results = tmp_path / "results"
    summary = api.run_suite(suite, results=results, jobs=2, progress=False)
    assert summary.exit_code == 0 and len(summary.statuses) == 6
    assert_same_as_serial(results, serial)
    threads = {r["env"]["torch_threads"] for r in records(results).values() if not r["extra"]["reused"]}
    assert threads == {max(1, available_cores() // 2)}

    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    assert api.run_suite(suite, results=results, jobs=2, progress=False).exit_code == 0  # nothing to submit
    assert before == {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}


def _split_suites(tmp_path: Path) -> list[Path]:
    """The two-base tiny suite as two suite files, one base each (same name, so the same case ids)."""
    from tests.bench.conftest import write_tiny

    paths = []
    for i, lr in enumerate(("1e-3", "3e-3")):
        (tmp_path / f"s{i}").mkdir()
        paths.append(write_tiny(tmp_path / f"s{i}", extra=f'"train.lr" = [{lr}]'))
    return paths


def test_several_suites_share_one_pool(two_bases: tuple[Path, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench run A B --jobs 2`: the cases of both suites go to the executor in one submission (one pool, both
    workers busy), and the records are those of a serial run."""
    suite, serial = two_bases
    paths = _split_suites(tmp_path)
    calls: list[list[str]] = []
    real_submit = LocalExecutor.submit

    def spy(self: LocalExecutor, cases: Any, *args: Any) -> Any:
        calls.append([d["id"] for d in cases])
        return real_submit(self, cases, *args)

    monkeypatch.setattr(LocalExecutor, "submit", spy)
    results = tmp_path / "results"
    summary = api.run_suites(paths, results=results, jobs=2, progress=False)
    assert summary.exit_code == 0 and len(summary.statuses) == 6
    assert len(calls) == 1 and sorted(calls[0]) == sorted(c.id for c in load_suite(suite).cases())
    assert_same_as_serial(results, serial)


def test_several_suites_serially_and_only_across_them(two_bases: tuple[Path, Path], tmp_path: Path) -> None:
    suite, serial = two_bases
    paths = _split_suites(tmp_path)
    second = load_suite(paths[1]).cases()[0]
    results = tmp_path / "results"
    summary = api.run_suites(paths, results=results, only=[second.id], progress=False)
    assert summary.statuses == {second.id: "ok"}
    assert_same_as_serial(results, serial, subset=True)
    with pytest.raises(BenchError, match=r"s0/tiny.toml, .*s1/tiny.toml: --only: no case matches nothing"):
        api.run_suites(paths, results=results, only=["nothing"], progress=False)


def test_ray_equals_serial(two_bases: tuple[Path, Path], tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is an optional extra: pip install 'morph-bench[ray]'")
    suite, serial = two_bases
    results = tmp_path / "results"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = api.run_suite(suite, results=results, jobs=2, executor="ray", progress=False)
    finally:
        ray.shutdown()
    assert summary.exit_code == 0
    assert_same_as_serial(results, serial)
    assert {r["env"]["torch_threads"] for r in records(results).values() if not r["extra"]["reused"]} == {1}


def test_slurm_executor_through_submitit_local(two_bases: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("submitit", reason="submitit is an optional extra: pip install 'morph-bench[slurm]'")
    suite, serial = two_bases
    uniform = [c.label for c in load_suite(suite).cases() if c.get("morph.method") == "uniform"]  # one per job
    results = tmp_path / "results"
    summary = api.run_suite(suite, results=results, executor="slurm", only=uniform, progress=False,
                            executor_options={"cluster": "local", "poll_s": 0.5, "slurm_partition": "gpu"})
    assert summary.exit_code == 0 and len(summary.statuses) == 2
    assert_same_as_serial(results, serial, subset=True)
    assert len(list((results / ".submitit").glob("*/*_log.out"))) == 2  # submitit's logs, beside the results
    assert len(load_results(results)) == 4  # base + uniform per case; the logs are not mistaken for records


def test_slurm_task_is_requeued_on_preemption_and_resumes(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    submitit = pytest.importorskip("submitit", reason="submitit is an optional extra")
    case = next(c for c in load_suite(make_tiny(learn_epochs=60)).cases() if c.get("morph.method") == "morphnet")
    results = tmp_path / "results"
    job_fn = CaseJob(str(results), JobOptions(threads=1).to_dict())
    delayed = job_fn.checkpoint([case.to_dict()])
    assert delayed.function is job_fn and delayed.args == ([case.to_dict()],)

    executor = submitit.AutoExecutor(folder=tmp_path / "logs" / "%j", cluster="local")
    executor.update_parameters(timeout_min=10)
    job = executor.submit(job_fn, [case.to_dict()])
    base = results / case.id / "base.json"
    import time

    deadline = time.monotonic() + 240
    while not base.exists() and time.monotonic() < deadline and not job.done():
        time.sleep(0.1)
    assert base.exists() and not job.done(), "the job ended before it could be preempted"
    finished = base.read_bytes()
    job._interrupt()  # what Slurm sends on preemption: submitit checkpoints and requeues the task
    assert job.result() == {case.id: "ok"}
    assert "requeued" in Path(job.paths.stderr).read_text().lower() or "requeued" in job.stdout().lower()
    assert base.read_bytes() == finished  # resumed after the finished stage, not redone
    assert {r["stage"] for r in records(results).values()} == {"base", "learn", "shrink", "expand"}


def test_merged_partial_folders_are_found_finished(two_bases: tuple[Path, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    suite, serial = two_bases
    groups = group_cases([c.to_dict() for c in load_suite(suite).cases()])
    for i, group in enumerate(groups):  # two machines, one job each: each folder holds its cases and stages
        part = tmp_path / f"machine{i}"
        for data in group:
            shutil.copytree(serial / data["id"], part / data["id"])
        keys = {s.key for data in group for s in plan_case(load_suite(suite).case(data["id"]))}
        for key in keys:
            shutil.copytree(serial / ".stages" / key, part / ".stages" / key)
        assert len(load_results(part)) == len(records(serial)) // 2
    merged = tmp_path / "merged"
    for i in range(len(groups)):
        shutil.copytree(tmp_path / f"machine{i}", merged, dirs_exist_ok=True)  # cp -r machine*/. merged/
    submitted: list[str] = []
    monkeypatch.setattr(LocalExecutor, "submit", lambda self, cases, *a: submitted.extend(d["id"] for d in cases))
    summary = api.run_suite(suite, results=merged, jobs=2, progress=False)
    assert summary.exit_code == 0 and len(summary.statuses) == 6 and not submitted
    assert_same_as_serial(merged, serial)
    shutil.rmtree(merged / groups[1][2]["id"])  # a case lost on the way: only it is submitted again
    api.run_suite(suite, results=merged, jobs=2, progress=False)
    assert submitted == [groups[1][2]["id"]]


def test_unknown_executor_options_and_missing_extras_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BenchError, match="unknown executor 'rey'; did you mean 'ray'"):
        get_executor("rey")
    with pytest.raises(BenchError, match="^--address: not an option of --executor local$"):
        get_executor("local", address="10.0.0.1:6379")
    assert set(EXECUTORS.names()) == {"local", "ray", "slurm"}
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(BenchError, match=r"^ray executor needs: pip install 'morph-bench\[ray\]'$"):
        get_executor("ray").submit([{"id": "x"}], Path("results"), JobOptions())
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(BenchError, match=r"^slurm executor needs: pip install 'morph-bench\[slurm\]'$"):
        SlurmExecutor().submit([], Path("results"), JobOptions())


def test_slurm_parameters() -> None:
    params = SlurmExecutor(jobs=4, slurm_partition="gpu", slurm_time=30).parameters("cuda")
    assert params == {"timeout_min": 30, "name": "bench", "tasks_per_node": 1, "nodes": 1, "gpus_per_node": 1,
                      "slurm_partition": "gpu", "slurm_array_parallelism": 4}
    assert "gpus_per_node" not in SlurmExecutor().parameters("cpu")
    assert "cpus_per_task" not in SlurmExecutor().parameters("cpu")
    assert SlurmExecutor(slurm_cpus=8).parameters("cpu")["cpus_per_task"] == 8
    assert SlurmExecutor(slurm_gpus=2, slurm_array_parallelism=8).parameters("cpu")["slurm_array_parallelism"] == 8


def test_off_a_terminal_each_finished_case_is_a_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.executors.progress import job_progress

    cases = [{"id": "a1", "label": "seed=0"}, {"id": "b2", "label": "seed=1"}]
    with job_progress(2, "local", True) as report:
        report.done(cases, {"a1": "ok", "b2": "ok"})
    assert capsys.readouterr().err.splitlines() == ["[1/2] a1 seed=0: ok", "[2/2] b2 seed=1: ok"]
    with job_progress(2, "local", False) as report:  # --no-progress: quiet
        report.done(cases, {"a1": "ok", "b2": "ok"})
    assert capsys.readouterr().err == ""


def test_off_a_terminal_workers_print_a_line_per_finished_stage(make_tiny: Callable[..., Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`--jobs N` in a log: each stage a worker finishes is a line, as with `--jobs 1`, not only each case."""
    from bench.executors.base import run_job

    case = next(c for c in load_suite(make_tiny()).cases() if c.get("morph.method") == "uniform")
    run_job([case.to_dict()], tmp_path / "quiet", JobOptions(threads=1))
    assert capsys.readouterr().err == ""
    run_job([case.to_dict()], tmp_path / "lines", JobOptions(threads=1, stage_lines=True))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[2] for line in lines] == ["base:", "uniform:"]
    assert all(line.startswith(f"{case.id} {case.label} ") and " ok " in line for line in lines)
