"""``--executor ray``: one Ray task per job, on the cluster at ``--address`` or on a Ray started here.

Resources per task: ``num_gpus=1`` on ``device="cuda"`` (Ray sets ``CUDA_VISIBLE_DEVICES`` for the task) with
the CPUs of the smallest GPU node divided by its GPUs; on CPU, ``num_cpus = max(1, cluster CPUs // --jobs)``
(capped at the largest node), and torch uses that many threads. Workers import ``bench``, so every node needs
this project installed and the results folder on a shared file system.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.executors.base import EXECUTORS, CaseDict, JobOptions, case_ids, group_cases, need, outcomes, run_job
from bench.executors.progress import job_progress


def _resources(ray: Any, jobs: int, device: str) -> tuple[int, int]:
    """(num_cpus, num_gpus) per task."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if device == "cuda":
        per_gpu = [int(r.get("CPU", 1) // r["GPU"]) for r in nodes if r.get("GPU")]
        if not per_gpu:
            from bench.errors import BenchError

            raise BenchError("--executor ray --device cuda: the Ray cluster has no GPU")
        return max(1, min(per_gpu)), 1
    total = int(sum(r.get("CPU", 0) for r in nodes))
    largest = int(max((r.get("CPU", 1) for r in nodes), default=1))
    return max(1, min(total // max(jobs, 1), largest)), 0


@EXECUTORS.register("ray")
class RayExecutor:
    def __init__(self, jobs: int = 1, progress: bool = True, address: str | None = None) -> None:
        self.jobs = jobs
        self.progress = progress
        self.address = address

    def submit(self, case_dicts: Sequence[CaseDict], results: Path, options: JobOptions) -> dict[str, str]:
        ray = need("ray", "ray", "ray")
        groups = group_cases(case_dicts)
        if not groups:
            return {}
        started = not ray.is_initialized()
        if started:
            local = {} if self.address else {"include_dashboard": False}  # a cluster's settings are its own
            ray.init(address=self.address, log_to_driver=False, **local)
        try:
            cpus, gpus = _resources(ray, self.jobs, options.device)
            options = JobOptions(options.device, options.force, options.retry_failed, options.threads or cpus)
            task = ray.remote(num_cpus=cpus, num_gpus=gpus)(run_job)
            refs = {task.remote(group, str(results.resolve()), options.to_dict()): group for group in groups}
            self._wait(ray, refs, len(case_dicts), f"ray ({cpus} CPU{'s' if cpus > 1 else ''}"
                       f"{', 1 GPU' if gpus else ''} per job)", results)
        finally:
            if started:
                ray.shutdown()
        return outcomes(case_dicts, results)

    def _wait(self, ray: Any, refs: dict[Any, list[dict[str, Any]]], total: int, description: str,
              results: Path | None = None) -> None:
        pending = list(refs)
        try:
            with job_progress(total, description, self.progress, results) as report:
                while pending:
                    ready, pending = ray.wait(pending, num_returns=1)
                    group = refs[ready[0]]
                    statuses: dict[str, str] = {}
                    try:
                        statuses = ray.get(ready[0])
                    except Exception as exc:  # the task failed after Ray's retries
                        report.error(f"job {','.join(case_ids(group))}: {type(exc).__name__}: {exc}")
                    report.done(group, statuses)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
