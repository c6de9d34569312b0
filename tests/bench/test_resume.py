"""A run killed with SIGKILL in the middle of a case resumes without redoing or losing a finished stage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import api
from bench.store import load_results


def _snapshot(results: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in results.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_sigkill_mid_case_then_rerun(make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    suite = make_tiny(learn_epochs=40)  # a structure-learning stage long enough to be killed in
    results = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "run", str(suite), "--results", str(results),
                             "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(results.glob("*/base.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    time.sleep(0.5)  # now inside the first case's structure-learning stage
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    finished = _snapshot(results)
    done_stages = {p.relative_to(results) for p in finished if p.suffix == ".json" and p.parent.parent == results}
    assert done_stages, "nothing finished before the kill"
    assert not list(results.glob("*/expand-it1.json")), "the kill came too late to be mid-case"

    summary = api.run_suite(suite, results=results, progress=False)
    assert summary.exit_code == 0
    after = _snapshot(results)
    for path, content in finished.items():  # nothing finished was redone (same bytes, same timestamps)
        assert after[path] == content, path
    df = load_results(results)
    assert len(df) == 10 and set(df["status"]) == {"ok"}  # nothing lost
