"""A transient rich progress bar on stderr for the training steps of each epoch, plus one line per epoch."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.console import VERBOSE, stderr


class EpochProgress:
    """Shows ``epoch e/N ━━━ step/steps loss`` while training and keeps one summary line per epoch;
    off a terminal (CI logs, a pipe) only the epoch lines, and only at ``bench run -v``."""

    def __init__(self, epochs: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self._progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
            disable=not (enabled and stderr.is_terminal and sys.stderr.isatty()),
        )
        self.enabled = not self._progress.disable
        self._plain = enabled and not self.enabled and VERBOSE.on
        self._task = self._progress.add_task("train", total=None, epoch=0, epochs=epochs, loss="–")

    def start_epoch(self, epoch: int, steps: int) -> None:
        self._progress.reset(self._task, total=steps, epoch=epoch + 1, epochs=self.epochs, loss="–")

    def advance(self, loss: float) -> None:
        self._progress.update(self._task, advance=1, loss=f"{loss:.4f}")

    def end_epoch(self, row: Mapping[str, float], monitor: str) -> None:
        """Print ``epoch e/N  loss …  val_<monitor> …  …s`` above the bar."""
        if self.enabled or self._plain:
            val = row.get(f"val_{monitor}", float("nan"))
            seconds = row.get("epoch_time_s", 0.0) + row.get("eval_time_s", 0.0)
            stderr.print(
                f"epoch {int(row['epoch']) + 1}/{self.epochs}  loss {row['train_loss']:.4f}  "
                f"val_{monitor} {val:.4f}  {seconds:.1f}s", highlight=False
            )

    def __enter__(self) -> EpochProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
