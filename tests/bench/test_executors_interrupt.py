"""Ctrl-C on a ``--jobs 2`` run keeps every finished case; the rerun submits only the missing ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import api
from bench.executors.local import LocalExecutor
from bench.pipeline import case_status
from bench.suite import load_suite


def _snapshot(results: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_keeps_finished_cases_and_rerun_submits_only_missing(
    make_tiny: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One quick case and three long ones, so the interrupt lands while the long ones are training. With 40 epochs
    # they ended seconds after the quick one, and once (a full run on a noisy VM) the Ctrl-C reached a run that had
    # just finished (exit 0); 150 epochs widen that window without lengthening the test much
    suite = make_tiny(extra='"train.epochs" = [1, 150, 151, 152]')
    cases = [c for c in load_suite(suite).cases() if c.get("morph.method") == "uniform"]  # 4 jobs of one case
    only = [arg for c in cases for arg in ("--only", c.id)]
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
                             "--jobs", "2", "--no-progress", *only], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(results.glob("*/uniform.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the driver and its workers
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_alive(proc.pid), "worker processes outlived the driver"

    done = {c.id for c in cases if case_status(results, c) == "done"}
    assert 1 <= len(done) < len(cases)
    finished = _snapshot(results)

    submitted: list[str] = []
    original = LocalExecutor.submit

    def spy(self: LocalExecutor, case_dicts, results_dir, options):  # type: ignore[no-untyped-def]
        submitted.extend(d["id"] for d in case_dicts)
        return original(self, case_dicts, results_dir, options)

    monkeypatch.setattr(LocalExecutor, "submit", spy)
    summary = api.run_suite(suite, results=results, only=[c.id for c in cases], jobs=2, progress=False)
    assert summary.exit_code == 0
    assert sorted(submitted) == sorted(c.id for c in cases if c.id not in done)
    after = _snapshot(results)
    for path, content in finished.items():
        if path.parent.name in done:  # finished cases were not touched
            assert after[path] == content, path
