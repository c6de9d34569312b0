"""The one Rich console on stderr that progress bars, status lines and warnings share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from bench.errors import printable

if TYPE_CHECKING:
    from bench.pipeline.runner import StageEvent

stderr = Console(stderr=True, highlight=False)
_warned: set[str] = set()


class _Verbose:
    """``bench run -v``: off a terminal, training prints one line per epoch (a flag, not an argument, since it
    only changes what is printed, never a result)."""

    on = False


VERBOSE = _Verbose()


def is_terminal() -> bool:
    """Whether stderr is an interactive terminal (progress bars) or a log, pipe or CI (plain lines)."""
    return stderr.is_terminal


def warn_once(text: str) -> None:
    """Print ``warning: <text>`` on stderr once per process (a corrupt file met by every command of a run
    is named once)."""
    if text not in _warned:
        _warned.add(text)
        stderr.print(f"warning: {printable(text)}", markup=False, soft_wrap=True)


def stage_line(event: StageEvent) -> str | None:
    """The line a finished stage gets: ``<case> <label> <stage>: <status>`` plus its key metric and time, the
    one-line reason of a failure, and for a failure replayed from an earlier run the hint to retry it.
    None for events that finish nothing ("running")."""
    if event.status == "running":
        return None
    record = event.record
    head = f"{event.case.id} {event.case.label} {event.stage.label}: {event.status}"
    if record is None:
        return head
    if record.status != "ok":
        reason = f" ({record.error})" if record.error else ""
        hint = "; recorded by an earlier run, rerun with --retry-failed to retry it" \
            if event.replayed and record.status == "failed" else ""
        return head + reason + hint
    parts = [head]
    val = (record.metrics or {}).get("val") or {}
    for name in ("dice", "accuracy", "acc"):
        if isinstance(val.get(name), (int, float)):
            parts.append(f"val_{name} {val[name]:.4f}")
            break
    if record.params is not None:
        parts.append(f"params {record.params:,}")
    if event.seconds is not None:
        parts.append(f"{event.seconds:.1f}s")
    return "  ".join(parts)


def print_stage(event: StageEvent) -> None:
    """Failures always get their line (red on a terminal); off a terminal (nohup, CI, a pipe), where no progress
    bar shows, every finished stage gets a plain line."""
    text = stage_line(event)
    if text is None:
        return
    text = printable(text)
    if event.status in ("failed", "diverged"):
        stderr.print(text, style="red", markup=False, soft_wrap=True)
    elif not is_terminal():
        stderr.print(text, markup=False, soft_wrap=True)
