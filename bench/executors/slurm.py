"""``--executor slurm``: a submitit job array, one array task per job, on a results folder all nodes share.

Options: ``--slurm-partition``, ``--slurm-time`` (minutes per task), ``--slurm-gpus`` (GPUs per task) and
``--slurm-array-parallelism`` (tasks running at once; ``--jobs N`` stands in when it is not given).
submitit's logs go to ``<results>/.submitit/<job id>/``.

Preemption and timeouts: :class:`CaseJob` has a ``checkpoint`` method returning a ``DelayedSubmission`` of
itself, so submitit requeues the task; the requeued task calls :func:`run_job` again, which skips every
stage that finished (the run is resumable per stage), i.e. it resumes at the last finished stage.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.executors.base import EXECUTORS, CaseDict, JobOptions, case_ids, group_cases, need, outcomes, run_job
from bench.executors.progress import job_progress


class CaseJob:
    """The callable submitit pickles: runs one job's cases; requeued with the same arguments on preemption."""

    def __init__(self, results: str, options: dict[str, Any]) -> None:
        self.results = results
        self.options = options

    def __call__(self, case_dicts: Sequence[CaseDict]) -> dict[str, str]:
        return run_job(case_dicts, self.results, self.options)

    def checkpoint(self, case_dicts: Sequence[CaseDict]) -> Any:
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, case_dicts)


@EXECUTORS.register("slurm")
class SlurmExecutor:
    def __init__(self, jobs: int = 1, progress: bool = True, slurm_partition: str | None = None,
                 slurm_time: int = 60, slurm_gpus: int | None = None, slurm_array_parallelism: int | None = None,
                 slurm_cpus: int | None = None, cluster: str | None = None, poll_s: float = 10.0) -> None:
        """``cluster``: submitit's backend (None: Slurm if ``srun`` exists; "local"/"debug" for tests).
        ``slurm_cpus``: cpus-per-task (None: the cluster's default); torch's threads follow the task's CPUs."""
        self.jobs = jobs
        self.progress = progress
        self.partition = slurm_partition
        self.time_min = slurm_time
        self.gpus = slurm_gpus
        self.cpus = slurm_cpus
        self.parallelism = slurm_array_parallelism or (jobs if jobs > 1 else None)
        self.cluster = cluster
        self.poll_s = poll_s

    def parameters(self, device: str) -> dict[str, Any]:
        params: dict[str, Any] = {"timeout_min": self.time_min, "name": "bench", "tasks_per_node": 1, "nodes": 1}
        gpus = self.gpus if self.gpus is not None else (1 if device == "cuda" else 0)
        if gpus:
            params["gpus_per_node"] = gpus
        if self.cpus:
            params["cpus_per_task"] = self.cpus
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.parallelism:
            params["slurm_array_parallelism"] = self.parallelism
        return params

    def submit(self, case_dicts: Sequence[CaseDict], results: Path, options: JobOptions) -> dict[str, str]:
        submitit = need("submitit", "slurm", "slurm")
        if self.cluster is None and shutil.which("sbatch") is None:  # submitit would quietly run the jobs here
            raise BenchError("--executor slurm: no Slurm on this machine (sbatch is not on PATH); "
                             "use --executor local, or run on a Slurm login node")
        groups = group_cases(case_dicts)
        if not groups:
            return {}
        results = results.resolve()
        executor = submitit.AutoExecutor(folder=results / ".submitit" / "%j", cluster=self.cluster)
        executor.update_parameters(**self.parameters(options.device))
        jobs = executor.map_array(CaseJob(str(results), options.to_dict()), groups)
        by_job = {id(job): group for job, group in zip(jobs, groups)}
        try:
            with job_progress(len(case_dicts), f"{executor.cluster} array {jobs[0].job_id.split('_')[0]}",
                              self.progress, results) as report:
                for job in submitit.helpers.as_completed(jobs, poll_frequency=self.poll_s):
                    group = by_job[id(job)]
                    statuses: dict[str, str] = {}
                    try:
                        statuses = job.result()
                    except Exception as exc:  # FailedJobError, UncompletedJobError: see the job's log
                        report.error(f"job {job.job_id} ({','.join(case_ids(group))}): {type(exc).__name__}: "
                                     f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
                    report.done(group, statuses)
        except KeyboardInterrupt:
            for job in jobs:
                if not job.done():
                    job.cancel(check=False)
            raise
        return outcomes(case_dicts, results)
