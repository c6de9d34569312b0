"""A driver-side progress bar over cases for the parallel executors (workers run without bars)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.console import stderr


class _Report:
    def __init__(self, bar: Progress, task: Any) -> None:
        self.bar, self.task = bar, task

    def done(self, group: Sequence[Mapping[str, Any]], statuses: Mapping[str, str]) -> None:
        for case in group:
            status = statuses.get(case["id"], "incomplete")
            if status != "ok":
                stderr.print(f"[red]{case['id']} {case['label']}: {status}[/red]")
        self.bar.advance(self.task, len(group))

    def error(self, text: str) -> None:
        stderr.print(f"[red]{text}[/red]")


@contextmanager
def job_progress(total: int, description: str, enabled: bool) -> Iterator[_Report]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, disable=not enabled) as bar:
        yield _Report(bar, bar.add_task(description, total=total))
