"""Where a suite's cases run: ``local`` worker processes, a ``ray`` cluster, or a ``slurm`` job array.

Every backend runs the same pure, idempotent job (:func:`run_job`) on groups of cases that share their first
stage (:func:`group_cases`), and the driver reads outcomes from the results store. ``ray`` and ``slurm``
import their optional dependencies only when used.
"""

from __future__ import annotations

from bench.executors import local, ray_tasks, slurm  # noqa: F401  (registers the executors)
from bench.executors.base import (
    EXECUTORS, Executor, JobOptions, case_outcome, get_executor, group_cases, needs_run, run_job,
)

__all__ = [
    "EXECUTORS", "Executor", "JobOptions", "case_outcome", "get_executor", "group_cases", "needs_run", "run_job",
]
