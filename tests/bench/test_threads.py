"""Threads per case: from the CPUs this process may use, the executor's share and the idle CPUs; wait policy."""

from __future__ import annotations

import os

import pytest
import torch

from bench.executors import threads
from bench.executors.base import available_cores
from bench.executors.local import LocalExecutor
from bench.executors.threads import CHOICE_ENV, case_threads, choose_threads, idle_cpus, wait_policy
from bench.store import environment

# /proc/stat lines: user nice system idle iowait irq softirq steal (jiffies)
BEFORE = "cpu  9 9 9 9 9 9 9 9\ncpu0 100 0 50 800 50 0 0 0\ncpu1 300 0 0 100 0 0 0 0\ncpu2 0 0 0 0 0 0 0 0\nintr 5\n"
AFTER = "cpu  9 9 9 9 9 9 9 9\ncpu0 110 0 50 880 60 0 0 0\ncpu1 395 0 5 100 0 0 0 0\ncpu2 0 0 0 100 0 0 0 0\nintr 6\n"


def test_idle_cpus_from_two_proc_stat_samples() -> None:
    texts = iter([BEFORE, AFTER])
    # cpu0: idle+iowait grew 90 of 100 jiffies; cpu1: 0 of 100; cpu2 is not ours. 2 CPUs × 90/200 = 0.9 idle.
    assert idle_cpus({0, 1}, window_s=0.0, read=lambda: next(texts)) == pytest.approx(0.9)
    assert idle_cpus({0, 1}, window_s=0.0, read=lambda: "no cpu lines\n") is None


def test_choice_follows_affinity_executor_share_and_idle_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5, 7}, raising=False)
    assert available_cores() == 4 and choose_threads() == threads.ThreadChoice(4, 4, None)
    assert LocalExecutor(jobs=2).plan(n_groups=3, device="cpu")[1] == 2  # the executor's share per worker
    assert choose_threads(idle=3.6).threads == 4
    assert choose_threads(idle=1.4).threads == 1  # the others keep their CPUs
    assert choose_threads(idle=0.1).threads == 1  # never zero
    assert choose_threads(limit=2, idle=3.9).threads == 2  # never above the share


def test_case_threads_sets_notes_and_restores() -> None:
    before = torch.get_num_threads()
    with case_threads(1, measure=False) as choice:
        assert torch.get_num_threads() == 1 and choice.threads == 1
        env = environment()
        assert env["torch_threads"] == 1 and env["threads_choice"] == "1 of 1 allowed, unknown CPUs idle"
    assert torch.get_num_threads() == before and CHOICE_ENV not in os.environ


def test_threads_follow_load_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The count decides float reductions, so by default it must not depend on what else the machine runs."""
    import bench.executors.threads as threads

    monkeypatch.setattr(threads, "idle_cpus", lambda cpus: 0.2)  # a busy machine
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    with case_threads(2) as choice:
        assert (choice.threads, choice.idle) == (2, None)
    monkeypatch.setenv(threads.THREADS_ENV, "auto")
    with case_threads(2) as choice:
        assert (choice.threads, choice.idle) == (1, 0.2)
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    with case_threads(2) as choice:
        assert choice.threads == 3


def test_wait_policy_fills_only_what_is_unset_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    with wait_policy({"GOMP_SPINCOUNT": "123", "OMP_WAIT_POLICY": "PASSIVE"}) as used:
        assert used == {"GOMP_SPINCOUNT": "123", "OMP_WAIT_POLICY": "ACTIVE"}  # the user's setting wins
        env = environment()
        assert (env["gomp_spincount"], env["omp_wait_policy"]) == ("123", "ACTIVE")
    assert "GOMP_SPINCOUNT" not in os.environ and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
