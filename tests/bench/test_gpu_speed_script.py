"""The prepared GPU speed check (benchmarks/gpu_speed.sh) runs end to end, here on the CPU with a tiny setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_speed_script_runs_on_cpu(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "DEVICES": "cpu", "TINY": "1", "SUITE": str(tiny_suite),
           "PYTHON": sys.executable, "VARIANTS": "defaults;sync every step;channels_last",
           "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_speed.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    speed = json.loads((out / "speed-cpu.json").read_text())
    assert [r["variant"] for r in speed["rows"]] == ["defaults", "sync every step", "channels_last"]
    assert all(r["images_per_s"] > 0 and r["gpu_util_percent"] is None for r in speed["rows"])
    summary = (out / "summary.md").read_text()
    assert "| defaults |" in summary and "suite wall on cpu:" in summary
