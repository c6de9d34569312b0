"""A driver-side progress bar over cases for the parallel executors (workers run without bars)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.console import is_terminal, stderr
from bench.errors import printable


class _Report:
    def __init__(self, bar: Progress, task: Any, results: Path | None, total: int, lines: bool) -> None:
        self.bar, self.task, self.results = bar, task, results
        self.total, self.finished, self.lines = total, 0, lines

    def done(self, group: Sequence[Mapping[str, Any]], statuses: Mapping[str, str]) -> None:
        for case in group:
            status = statuses.get(case["id"], "incomplete")
            self.finished += 1
            if status != "ok":
                text = printable(f"{case['id']} {case['label']}: {status}{self._reason(case)}")
                stderr.print(text, style="red", markup=False, soft_wrap=True)
            elif self.lines:  # off a terminal a log still shows progress: one plain line per finished case
                stderr.print(printable(f"[{self.finished}/{self.total}] {case['id']} {case['label']}: ok"),
                             markup=False, soft_wrap=True)
        self.bar.advance(self.task, len(group))

    def _reason(self, case: Mapping[str, Any]) -> str:
        """`` at <stage> (<one-line error>)`` from the case's first record that is not ok."""
        from bench.pipeline import stage_records
        from bench.suite import Case

        if self.results is None:
            return ""
        for stage, record in stage_records(self.results, Case.from_dict(case)):
            if record is not None and record.status != "ok":
                return f" at {stage.label}" + (f" ({record.error})" if record.error else "")
        return ""

    def error(self, text: str) -> None:
        stderr.print(f"[red]{text}[/red]")


@contextmanager
def job_progress(total: int, description: str, enabled: bool, results: Path | None = None) -> Iterator[_Report]:
    """A bar over cases (on a terminal, else one plain line per finished case); a case that is not ok gets a line
    with the reason its records give."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, disable=not (enabled and is_terminal())) as bar:
        yield _Report(bar, bar.add_task(description, total=total), results, total, enabled and not is_terminal())
