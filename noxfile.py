"""Sessions: `nox` runs the tests; `nox -s reproduce` reruns the verdict suites and regenerates reports/, in two
groups that each fit 100 minutes on 2 cores (`nox -s reproduce_blog`: the blog's conclusions; `nox -s
reproduce_methods`: the method zoo and the FLOPs and latency targets), and `nox -s reproduce_extended` the smp
backbones; `nox -s verify` reruns committed cases and checks them against reports/records;
`nox -s reports` re-renders reports/ from the records committed in reports/records (no training)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
SUITES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "suites").glob("*.toml"))
#: Suites that feed no verdict and cost more than all the others together (one seed of the smp backbones: about
#: 34 minutes on 2 cores). `nox -s reproduce` leaves them out; `nox -s reproduce_extended` runs them.
EXTENDED = ["suites/backbones.toml"]
#: The verdict suites in groups of at most 100 minutes each on 2 cores (issue 12 allows the split).
GROUPS = {
    "blog": [f"suites/{s}.toml" for s in ("quickstart", "cifar", "regularizers", "symmetry", "one_conv", "layers")],
    "methods": [f"suites/{s}.toml" for s in ("flops_target", "methods", "latency")],
}
#: Suites that choose widths by timing candidates (``budget_by = "measurement"``): they run after the pool, one case
#: at a time, so no other worker's load is in the timings that decide their widths.
ALONE = ["suites/latency.toml"]


def _jobs(posargs: list[str]) -> list[str]:
    """``--jobs`` = the CPUs this process may use, unless given: on 2 cores two one-thread cases train 1.33× more
    steps per second than one two-thread case (issue 16)."""
    import os

    given = any(arg in ("--jobs", "-j") or arg.startswith("--jobs=") for arg in posargs)
    return [] if given else ["--jobs", str(len(os.sched_getaffinity(0)))]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python="3.11")
def reproduce(session: nox.Session) -> None:
    """Run every suite but the EXTENDED ones (quick profile unless posargs say otherwise), then render all reports.

    Posargs go to `bench run`, e.g. `nox -s reproduce -- --profile full --data-path /data/inria`. The records
    of profiles not rerun (real data, the extended suites) stay in reports/records and in the reports.
    """
    grouped = [s for suites in GROUPS.values() for s in suites]
    _run_suites(session, grouped + [s for s in SUITES if s not in EXTENDED and s not in grouped])


@nox.session(python="3.11")
def reproduce_blog(session: nox.Session) -> None:
    """The blog's conclusions and MorphNet vs uniform (quickstart, cifar, regularizers, symmetry, one_conv,
    layers), then render all reports."""
    _run_suites(session, GROUPS["blog"])


@nox.session(python="3.11")
def reproduce_methods(session: nox.Session) -> None:
    """The method zoo, the FLOPs-target and the latency-target suites, then render all reports."""
    _run_suites(session, GROUPS["methods"])


@nox.session(python="3.11")
def reproduce_extended(session: nox.Session) -> None:
    """Run the EXTENDED suites (smp backbones, one seed), then render all reports."""
    _run_suites(session, EXTENDED)


def _run_suites(session: nox.Session, suites: list[str]) -> None:
    session.install("-e", ".")
    # one `bench run` for all the suites: their cases share one pool of workers, so a suite whose stages form one
    # chain (one seed) does not leave the other cores idle
    pooled = [s for s in suites if s not in ALONE]
    if pooled:
        session.run("bench", "run", *pooled, *_jobs(session.posargs), *session.posargs, success_codes=[0, 1])
    for suite in (s for s in suites if s in ALONE):
        session.run("bench", "run", suite, *session.posargs, "--jobs", "1", success_codes=[0, 1])
    for suite in suites:  # latency timed beside the other --jobs workers reads slow: time it again, alone
        session.run("bench", "remeasure", suite, *_profile(session.posargs))
    session.run("bench", "report", "results", "--out", "reports")


def _profile(posargs: list[str]) -> list[str]:
    """The ``--profile``/``-p`` option among the posargs (for ``bench remeasure``), or nothing."""
    for i, arg in enumerate(posargs):
        if arg in ("--profile", "-p") and i + 1 < len(posargs):
            return ["--profile", posargs[i + 1]]
        if arg.startswith("--profile="):
            return [arg]
    return []


@nox.session(python="3.11")
def reports(session: nox.Session) -> None:
    """Re-render reports/ from reports/records/*.jsonl: the same bytes as committed (a test checks the markdown)."""
    session.install("-e", ".")
    session.run("bench", "report", "reports/records", "--out", "reports")


@nox.session(python="3.11")
def verify(session: nox.Session) -> None:
    """Rerun committed cases in a scratch folder and judge them against reports/records (`bench verify`).

    Posargs go to `bench verify`; default: two cases drawn with seed 0, e.g. `nox -s verify -- --cases 26cecae07363`.
    """
    session.install("-e", ".")
    session.run("bench", "verify", "reports/records", *(session.posargs or ["--sample", "2"]))
