"""benchmarks/latency_pairs.py times each seed's base, MorphNet and uniform models in interleaved rounds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import api

ROOT = Path(__file__).resolve().parents[2]


def test_latency_pairs_reports_every_morphnet_case_with_its_uniform(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert api.run_suite(tiny_suite, results=results, progress=False).exit_code == 0
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "latency_pairs.py"), str(tiny_suite),
                           "--results", str(results), "--rounds", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all("faster in" in line and "/2 rounds" in line for line in lines)  # sym 0 and 2
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "latency_pairs.py"), str(tiny_suite),
                          "--results", str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "existing results folder" in bad.stderr
