"""Intra-op threads and OpenMP waiting that are fast alone and fair on a shared machine.

Two levers, both measured on the 2-core box this project runs on while other agents loaded it (issue 16):

- **How many threads.** Each case takes the CPUs it may use (``os.sched_getaffinity`` divided among the
  executor's workers, or what the executor gave it). ``MORPH_BENCH_THREADS=N`` pins the count, and
  ``MORPH_BENCH_THREADS=auto`` also caps it at the CPUs idle right now, read from ``/proc/stat`` over a short
  window before the case starts: two threads next to busy CPUs wait on each other at every barrier (one step
  went from 0.44 s with one thread to 7 s with two), one thread never waits. ``auto`` is opt-in because the
  thread count changes float reductions: a count that follows the machine's load would make a CPU rerun differ
  from the record it checks (one epoch at 1 vs 2 threads moved weights by ~1e-3). The count is chosen once per
  case and recorded (``env.torch_threads``, ``env.threads_choice``).
- **How idle OpenMP threads wait.** libgomp's default spins ~300,000 iterations before sleeping, which starves
  other processes (and this one, when they preempt its partner thread); ``OMP_WAIT_POLICY=PASSIVE`` never
  spins but slows a run alone. A short spin (:data:`WAIT_ENV`) keeps barriers cheap alone and yields soon under
  load. OpenMP reads it once, when torch loads: :func:`wait_policy` sets it for a ``bench run`` before torch is
  imported, and worker processes spawned inside inherit it. A value already in the environment wins.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Set (unless already set) before torch loads; see the module doc and benchmarks/test_contention.py.
WAIT_ENV: Mapping[str, str] = {"GOMP_SPINCOUNT": "10000"}
#: How the choice is shown in each record's environment block (read by bench.store.environment).
CHOICE_ENV = "MORPH_BENCH_THREADS_CHOICE"
#: ``N`` pins torch's threads per case; ``auto`` caps them at the CPUs idle when the case starts.
THREADS_ENV = "MORPH_BENCH_THREADS"
#: How long the idle CPUs are sampled before a case.
WINDOW_S = 0.1


def allowed_cpus() -> set[int]:
    """The CPU ids this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def _read_proc_stat() -> str:
    return Path("/proc/stat").read_text(encoding="ascii", errors="replace")


def _cpu_times(text: str, cpus: set[int]) -> dict[int, tuple[int, int]]:
    """(idle + iowait, total) jiffies per CPU of ``cpus`` from ``/proc/stat`` text."""
    out = {}
    for line in text.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            out[int(name[3:])] = (values[3] + values[4], sum(values))
    return out


def idle_cpus(cpus: set[int], window_s: float = WINDOW_S,
              read: Callable[[], str] = _read_proc_stat) -> float | None:
    """How many of ``cpus`` were idle over the last ``window_s`` seconds (e.g. 1.6 of 2); None if unknown."""
    try:
        before = _cpu_times(read(), cpus)
        time.sleep(window_s)
        after = _cpu_times(read(), cpus)
    except (OSError, ValueError, IndexError):
        return None
    idle = total = 0
    for cpu, (idle_b, total_b) in before.items():
        if cpu in after:
            idle += after[cpu][0] - idle_b
            total += after[cpu][1] - total_b
    if not before or total <= 0:
        return None
    return len(before) * idle / total


@dataclass(frozen=True)
class ThreadChoice:
    """Threads for one case: ``limit`` (what the executor allows), ``idle`` (CPUs measured idle), ``threads``."""

    threads: int
    limit: int
    idle: float | None

    def describe(self) -> str:
        idle = "unknown" if self.idle is None else f"{self.idle:.2f}"
        return f"{self.threads} of {self.limit} allowed, {idle} CPUs idle"


def choose_threads(limit: int | None = None, idle: float | None = None) -> ThreadChoice:
    """Threads for a case: at most ``limit`` (default: the CPUs this process may use), at most the idle CPUs
    (rounded to the nearest whole CPU, at least one)."""
    limit = max(1, limit or len(allowed_cpus()))
    threads = limit if idle is None else max(1, min(limit, math.floor(idle + 0.5)))
    return ThreadChoice(threads, limit, idle)


@contextmanager
def case_threads(limit: int | None = None, *, measure: bool | Callable[[], bool] = True) -> Iterator[ThreadChoice]:
    """Set torch's intra-op threads for one case and note the choice for the records; both are put back
    afterwards. The idle CPUs are measured only with ``MORPH_BENCH_THREADS=auto`` and when ``measure`` (a
    callable is asked only then: e.g. whether the case has work, which reads its records)."""
    import torch

    setting = os.environ.get(THREADS_ENV, "").strip().lower()
    if setting.isdigit() and int(setting) > 0:
        limit = int(setting)
    wanted = setting == "auto" and (measure() if callable(measure) else measure)
    idle = idle_cpus(allowed_cpus()) if wanted else None
    choice = choose_threads(limit, idle)
    previous, noted = torch.get_num_threads(), os.environ.get(CHOICE_ENV)
    torch.set_num_threads(choice.threads)
    os.environ[CHOICE_ENV] = choice.describe()
    try:
        yield choice
    finally:
        torch.set_num_threads(previous)
        _restore(CHOICE_ENV, noted)


@contextmanager
def wait_policy(env: Mapping[str, str] = WAIT_ENV) -> Iterator[dict[str, str]]:
    """Put the OpenMP wait settings in the environment for the block (keys already set are left alone);
    yields what is in force. Effective for torch loaded inside the block, and for processes spawned in it."""
    previous = {key: os.environ.get(key) for key in env}
    for key, value in env.items():
        os.environ.setdefault(key, value)
    try:
        yield {key: os.environ[key] for key in env}
    finally:
        for key, value in previous.items():
            _restore(key, value)


def _restore(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
