"""Wall time of a 4-case quick suite with ``--jobs 1`` (in process) vs ``--jobs 2`` (two spawned workers).

Run: ``python -m pytest benchmarks/test_jobs_scaling.py --benchmark-enable``; compare the rows' medians.
The four cases form two jobs (two seeds; MorphNet and uniform share their seed's base training), so two
workers can run side by side; each worker uses ``cores // 2`` torch threads, recorded in ``extra_info``.
The ratio includes spawning the workers (importing torch twice), which a 2-core machine feels most.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench import api
from bench.measure import torch_threads
from bench.store import load_results

SUITE = """
name = "jobs_scaling"
seeds = [0, 1]
[data]
name = "synthetic_buildings"
count = 64
size = 64
[model]
name = "unet"
base = 8
depth = 2
[train]
epochs = 4
batch_size = 8
lr = 1e-3
[morph]
strength = 1e-6
proximal = true
epochs = 2
lr = 1e-2
min_fraction = 0.25
[measure]
batch_sizes = [1]
warmup = 1
min_runs = 3
min_time_s = 0.0
[matrix]
"morph.method" = ["morphnet", "uniform"]
"""


@pytest.mark.parametrize(("jobs", "threads"), [(1, None), (1, 1), (2, None)],
                         ids=["jobs1-default-threads", "jobs1-1-thread", "jobs2"])
def test_quick_suite_wall_time(benchmark: Any, tmp_path: Path, jobs: int, threads: int | None) -> None:
    """``jobs1-1-thread`` separates the gain of two workers from that of one thread per process (on a loaded
    2-core box, two intra-op threads that wait on each other can cost more than they bring)."""
    suite = tmp_path / "jobs_scaling.toml"
    suite.write_text(SUITE)
    fresh = (tmp_path / f"results{i}" for i in itertools.count())
    used: list[Path] = []

    def setup() -> tuple[tuple[()], dict[str, Path]]:
        used.append(next(fresh))
        return (), {"results": used[-1]}

    def run(results: Path) -> None:
        with torch_threads(threads):
            assert api.run_suite(suite, results=results, jobs=jobs, progress=False).exit_code == 0

    benchmark.group = "bench run, 4 quick cases"
    benchmark.pedantic(run, setup=setup, rounds=2, warmup_rounds=0)
    df = load_results(used[-1])
    assert len(df) == 2 * (4 + 2)
    computed = [json.loads(Path(p).read_text()) for p in df["path"]]
    benchmark.extra_info["jobs"] = jobs
    benchmark.extra_info["load_avg_1min_after"] = os.getloadavg()[0]
    benchmark.extra_info["torch_threads_per_case"] = sorted({r["env"]["torch_threads"] for r in computed
                                                             if not r["extra"]["reused"]})
    benchmark.extra_info["cpu_count"] = computed[0]["env"]["cpu_count"]
