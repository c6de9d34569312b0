"""The executor seam: what a job is, how cases are grouped into jobs, and which cases still need one.

A *job* is a list of case dicts (:meth:`Case.to_dict`) that one worker runs in order with
:func:`run_job`. It is pure and idempotent: it reads the results store, runs only the stages that are
missing (:func:`bench.pipeline.run_case` resumes per stage and writes atomically), and a finished case
returns at once. Every executor calls the same function; results are gathered by reading files
(:func:`case_outcome`), never from return values, so a job that died, was requeued or ran on another
machine is accounted for the same way.

Stage sharing. Two cases running at once may need the same stage product (e.g. one base training serves
every symmetry level). Stage keys chain through their parents (``plan.py``), so two cases that share *any*
stage share their first one; :func:`group_cases` therefore puts all cases with the same first-stage key in
one job, in suite order. No two workers ever compute or read-while-writing the same stage, no lock files
are needed (they are unreliable on the NFS folders Slurm clusters share), and within a job the first case
computes each shared stage and the others reuse it, exactly as in a serial run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from bench.errors import BenchError
from morph.registry import Registry

CaseDict = Mapping[str, Any]


@dataclass(frozen=True)
class JobOptions:
    """What every worker needs to run its cases (JSON-ready, so it ships to any backend).

    Attributes:
        threads: ``torch.set_num_threads`` for the job; None: the cores this process may use.
        stage_lines: print a plain line per finished stage, as ``bench run --jobs 1`` does off a terminal (the
            driver's line per finished case alone left a log silent for a whole case group).
    """

    device: str = "cpu"
    force: bool = False
    retry_failed: bool = False
    threads: int | None = None
    stage_lines: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobOptions:
        return cls(**data)


class Executor(Protocol):
    """Runs jobs somewhere and waits for them; returns each submitted case's final status, read from disk."""

    def submit(self, case_dicts: Sequence[CaseDict], results: Path, options: JobOptions) -> dict[str, str]: ...


#: name → factory(**settings); settings are ``jobs``, ``progress`` and the CLI options of that backend.
EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor", error=BenchError)


def get_executor(name: str, **settings: Any) -> Executor:
    """Build the named executor; an option it does not take is a one-line :class:`BenchError`."""
    import inspect

    if name not in EXECUTORS:
        raise BenchError(f"--executor: {EXECUTORS.unknown_message(name)}")
    factory = EXECUTORS.get(name)
    accepted = inspect.signature(factory).parameters
    for key in settings:
        if key not in accepted:
            raise BenchError(f"--{key.replace('_', '-')}: not an option of --executor {name}")
    return factory(**settings)


def need(module: str, extra: str, executor: str) -> ModuleType:
    """Import an optional dependency or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BenchError(f"{executor} executor needs: pip install 'morph-bench[{extra}]'") from None


def available_cores() -> int:
    from bench.executors.threads import allowed_cpus

    return len(allowed_cpus())


def group_cases(case_dicts: Sequence[CaseDict]) -> list[list[dict[str, Any]]]:
    """Jobs: cases grouped by their first stage key (see the module doc), groups and cases in input order."""
    from bench.pipeline import plan_case
    from bench.suite import Case

    groups: dict[str, list[dict[str, Any]]] = {}
    for data in case_dicts:
        key = plan_case(Case.from_dict(data))[0].key
        groups.setdefault(key, []).append(dict(data))
    return list(groups.values())


def split_group(group: Sequence[CaseDict]) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """(lead, followers) of one group: the lead job (its first case) runs first, so every stage of its plan is on
    disk before any follower starts; the followers are then one job per *first stage they compute* (the first
    stage of their plan that is not the lead's), so cases that would compute the same stage stay together and
    the others run side by side. Whole groups as jobs leave workers idle when there are fewer groups than
    workers (three seeds on two workers ran the third seed's group alone, on one core); keying followers by
    their second stage kept every case that reuses the lead's learn run in one job (symmetry's three other
    levels: one after the other, on one core)."""
    from bench.pipeline import plan_case
    from bench.suite import Case

    lead, rest = [dict(group[0])], [dict(d) for d in group[1:]]
    done = {s.key for s in plan_case(Case.from_dict(lead[0]))}
    followers: dict[str, list[dict[str, Any]]] = {}
    for data in rest:
        plan = plan_case(Case.from_dict(data))
        first = next((s.key for s in plan if s.key not in done), plan[-1].key)
        followers.setdefault(first, []).append(data)
    return lead, list(followers.values())


def run_job(
    case_dicts: Sequence[CaseDict], results: str | Path, options: Mapping[str, Any] | JobOptions
) -> dict[str, str]:
    """Run (or resume) the cases of one job in order; the worker side of every executor.

    Sets torch's thread count per case (restored afterwards): at most ``options.threads`` (else the cores
    this process may use), at most the CPUs idle when the case starts (:mod:`bench.executors.threads`), so
    each record's ``env.torch_threads`` says what the case ran with.
    """
    from bench.executors.threads import case_threads
    from bench.console import print_stage
    from bench.pipeline import RunOptions, run_case
    from bench.suite import Case

    opts = options if isinstance(options, JobOptions) else JobOptions.from_dict(options)
    run_options = RunOptions(device=opts.device, force=opts.force, retry_failed=opts.retry_failed, progress=False,
                             on_stage=print_stage if opts.stage_lines else None)
    statuses: dict[str, str] = {}
    for data in case_dicts:
        case = Case.from_dict(data)
        with case_threads(opts.threads or available_cores()):
            statuses[case.id] = run_case(case, Path(results), run_options)
    return statuses


def needs_run(results: Path, case: Any, *, force: bool = False, retry_failed: bool = False) -> bool:
    """Whether :func:`run_case` would do any work for ``case`` (the driver submits only these)."""
    from bench.pipeline import stage_records
    from bench.store import has_checkpoint, resume_action, stage_cache

    for stage, record in stage_records(results, case):
        status = None if record is None else record.status
        action = resume_action(status, has_checkpoint(stage_cache(results), stage.key), force=force,
                               retry_failed=retry_failed)
        if action != "skip":
            return action == "run"
    return False


def case_outcome(results: Path, case: Any) -> str:
    """A case's status from its records: "ok", "failed", "diverged", or "incomplete" (its job died)."""
    from bench.pipeline import case_status

    status = case_status(results, case)
    return {"done": "ok", "partial": "incomplete", "todo": "incomplete"}.get(status, status)


def outcomes(case_dicts: Sequence[CaseDict], results: Path) -> dict[str, str]:
    """What :meth:`Executor.submit` returns: each case's status as the results store says."""
    from bench.suite import Case

    return {str(d["id"]): case_outcome(results, Case.from_dict(d)) for d in case_dicts}


def case_ids(case_dicts: Sequence[CaseDict]) -> list[str]:
    return [str(d["id"]) for d in case_dicts]
