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


@pytest.mark.slow
def test_latency_calibration_script_runs_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = os.environ | {
        "DEVICE": "cpu", "THREADS": "1", "OUT": str(out), "QUICK": "1", "MODELS": "unet:base=4,depth=2",
        "CAL_VARIANTS": "2", "CHECK_VARIANTS": "2", "SIZES": "32", "BATCHES": "1",
        "BENCH": f"{sys.executable} -m bench.cli", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "latency_calibration.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "calibrate_exit=0" in (out / "summary.txt").read_text()
    assert (out / "devices" / "cpu1-float32-calibrated.json").is_file()
    assert (out / "report" / "latency.md").is_file() and (out / "report" / "figures" / "latency-scatter.png").is_file()
    assert "## All variants" in done.stdout
