"""``--executor local``: a pool of worker processes on this machine (spawned, so CUDA and torch start clean).

- GPU (``device="cuda"``): one job per visible GPU at a time; each worker sees exactly one GPU through
  ``CUDA_VISIBLE_DEVICES`` (``--jobs`` above the GPU count is capped: latency timed on a shared GPU is wrong).
- CPU: ``--jobs`` workers with ``max(1, cores // workers)`` torch threads each, so they don't oversubscribe.

Ctrl-C: workers ignore SIGINT; the driver cancels what has not started, terminates the workers and re-raises.
Every stage that finished is on disk (atomic writes) and a rerun submits only the cases that are missing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from bench.console import is_terminal
from bench.errors import BenchError
from bench.executors.base import (
    EXECUTORS, CaseDict, JobOptions, available_cores, case_ids, group_cases, outcomes, run_job, split_group,
)
from bench.executors.progress import job_progress


def visible_gpus() -> list[str]:
    """The GPU ids this process may hand out: ``CUDA_VISIBLE_DEVICES`` if set, else every device torch sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _init_worker(gpus: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when workers stop
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus.get()


@EXECUTORS.register("local")
class LocalExecutor:
    def __init__(self, jobs: int = 1, progress: bool = True) -> None:
        self.jobs = jobs
        self.progress = progress

    def plan(self, n_groups: int, device: str) -> tuple[int, int, list[str] | None]:
        """(workers, torch threads per worker, GPU ids or None)."""
        gpus = visible_gpus()[: self.jobs] if device == "cuda" else None
        if gpus == []:
            raise BenchError("--device cuda: no GPU is visible (CUDA_VISIBLE_DEVICES / torch.cuda.device_count())")
        workers = max(1, min(self.jobs if gpus is None else len(gpus), n_groups))
        return workers, max(1, available_cores() // workers), gpus

    def submit(self, case_dicts: Sequence[CaseDict], results: Path, options: JobOptions) -> dict[str, str]:
        """Each group's lead job first; when it is done (the shared first stage is on disk), its followers
        (:func:`~bench.executors.base.split_group`). With ``force`` a group stays one job, so that its shared
        stage is redone once."""
        groups = group_cases(case_dicts)
        if not groups:
            return {}
        split = {i: ((g, []) if options.force else split_group(g)) for i, g in enumerate(groups)}
        workers, threads, gpus = self.plan(len(groups) + sum(len(f) for _, f in split.values()), options.device)
        options = JobOptions(options.device, options.force, options.retry_failed, options.threads or threads,
                             stage_lines=self.progress and not is_terminal())  # workers share this stderr
        ctx = mp.get_context("spawn")
        queue = None
        if gpus is not None:
            queue = ctx.Queue()
            for gpu in gpus[:workers]:
                queue.put(gpu)
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(queue,))
        statuses: dict[str, str] = {}
        interrupted = False
        submit = lambda job: pool.submit(run_job, job, str(results.resolve()), options.to_dict())  # noqa: E731
        try:
            pending: dict[Future[dict[str, str]], list[dict[str, Any]]] = {}
            after: dict[Future[dict[str, str]], list[list[dict[str, Any]]]] = {}
            for lead, followers in split.values():
                future = submit(lead)
                pending[future], after[future] = lead, followers
            where = f"{workers} workers × {options.threads} threads" + (f", GPUs {','.join(gpus)}" if gpus else "")
            with job_progress(len(case_dicts), f"local ({where})", self.progress, results) as report:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = pending.pop(future)
                        try:
                            statuses.update(future.result())
                        except Exception as exc:  # a worker crashed (BrokenProcessPool, OOM kill, a bug)
                            report.error(f"job {','.join(case_ids(job))}: {type(exc).__name__}: {exc}")
                        report.done(job, statuses)
                        for follower in after.pop(future, []):
                            pending[submit(follower)] = follower
        except KeyboardInterrupt:
            interrupted = True
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        return outcomes(case_dicts, results)
