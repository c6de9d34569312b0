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
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.executors.base import (
    EXECUTORS, CaseDict, JobOptions, available_cores, case_ids, group_cases, outcomes, run_job,
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
        groups = group_cases(case_dicts)
        if not groups:
            return {}
        workers, threads, gpus = self.plan(len(groups), options.device)
        options = JobOptions(options.device, options.force, options.retry_failed, options.threads or threads)
        ctx = mp.get_context("spawn")
        queue = None
        if gpus is not None:
            queue = ctx.Queue()
            for gpu in gpus[:workers]:
                queue.put(gpu)
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(queue,))
        statuses: dict[str, str] = {}
        interrupted = False
        try:
            futures: dict[Future[dict[str, str]], list[dict[str, Any]]] = {
                pool.submit(run_job, group, str(results.resolve()), options.to_dict()): group for group in groups
            }
            where = f"{workers} workers × {options.threads} threads" + (f", GPUs {','.join(gpus)}" if gpus else "")
            with job_progress(len(case_dicts), f"local ({where})", self.progress, results) as report:
                for future in as_completed(futures):
                    group = futures[future]
                    try:
                        statuses.update(future.result())
                    except Exception as exc:  # a worker crashed (BrokenProcessPool, OOM kill, a bug)
                        report.error(f"job {','.join(case_ids(group))}: {type(exc).__name__}: {exc}")
                    report.done(group, statuses)
        except KeyboardInterrupt:
            interrupted = True
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        return outcomes(case_dicts, results)
