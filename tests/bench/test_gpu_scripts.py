"""The prepared GPU scripts, run on CPU with a tiny suite: a session that draws a GPU must not debug them there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import write_tiny

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_full_scale_script_runs_on_cpu(tmp_path: Path) -> None:
    suite = write_tiny(tmp_path, extra="[profiles.gpu_synthetic]\ndata = { count = 8 }\n")
    out = tmp_path / "out"
    env = os.environ | {
        "SUITE": str(suite), "DEVICE": "cpu", "OUT": str(out), "LIMIT_S": "300",
        "BENCH": f"{sys.executable} -m bench.cli", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_full_scale.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (out / "summary.txt").read_text()
    assert "profile=gpu_synthetic device=cpu exit=0" in summary
    assert (out / "report" / "tiny.md").is_file() and (out / "report" / "records" / "tiny.jsonl").is_file()
    assert not list(out.rglob("*.safetensors"))
