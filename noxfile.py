"""Sessions: `nox` runs the tests; `nox -s reproduce` reruns every suite and regenerates reports/; `nox -s verify`
reruns committed cases and checks them against reports/records;
`nox -s reports` re-renders reports/ from the records committed in reports/records (no training)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
SUITES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "suites").glob("*.toml"))


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python="3.11")
def reproduce(session: nox.Session) -> None:
    """Run every suite (quick profile unless posargs say otherwise), then render all reports.

    Posargs go to `bench run`, e.g. `nox -s reproduce -- --profile full --data-path /data/inria`.
    """
    session.install("-e", ".")
    for suite in SUITES:
        session.run("bench", "run", suite, *session.posargs, success_codes=[0, 1])
    session.run("bench", "report", "results", "--out", "reports")


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
