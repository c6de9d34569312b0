"""Peak memory of one forward pass (inference mode).

- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``: bytes held by PyTorch tensors
  (weights, input and activations), not the caching allocator's reserve nor the CUDA context.
- CPU: the peak of the bytes torch's CPU allocator holds for the forward's own tensors (activations and
  workspace; the input and weights existed before), from ``torch.profiler``'s memory events replayed in time
  order (``method="torch_profiler"``). The resident-set high-water mark used before read 0 or 4096 bytes for these
  nets: glibc serves their buffers from memory the process already holds, so RSS never moves. Fallback where
  the profiler fails: the process's peak resident set size during the call. The kernel's high-water mark ``VmHWM`` is
  reset by writing ``5`` to ``/proc/self/clear_refs``, then read from ``/proc/self/status``. It covers the whole
  process (Python, libraries, other threads), so read ``delta_bytes`` (peak minus resident size just before the
  call) as "extra memory this forward needed". Where the reset is not allowed, ``resource.getrusage``'s
  ``ru_maxrss`` is used: a lifetime high-water mark, so the delta is a lower bound (0 if an earlier peak was
  higher); ``method`` says which was used.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench.measure._modes import eval_mode


@dataclass(frozen=True)
class MemoryMeasurement:
    """Peak bytes during one forward; ``method`` is "cuda_allocated", "torch_profiler", "rss_hwm" or "ru_maxrss"."""

    peak_bytes: int
    baseline_bytes: int
    device: str
    method: str
    batch: int
    input_shape: tuple[int, ...]

    @property
    def delta_bytes(self) -> int:
        return max(0, self.peak_bytes - self.baseline_bytes)


def _status_kib(field: str) -> int | None:
    try:
        for row in Path("/proc/self/status").read_text().splitlines():
            if row.startswith(field + ":"):
                return int(row.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment: the profiler's C++ side (kineto) prints
    ``USDT: … profiler_start`` lines on stderr at every start and stop, with no setting to turn them off, and they
    would break ``bench run``'s one line per stage."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _profiled_peak(model: nn.Module, x: torch.Tensor) -> int | None:
    """Peak of the running sum of torch CPU allocations (+) and frees (−) during ``model(x)``; None if the
    profiler is unavailable."""
    try:
        from torch.profiler import ProfilerActivity, profile

        with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model(x)
        events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    except (RuntimeError, AssertionError):
        return None
    held = peak = 0
    for event in events:
        held += event.self_cpu_memory_usage
        peak = max(peak, held)
    return peak


def measure_peak_memory(
    model: nn.Module, input_shape: Sequence[int], device: str | torch.device = "cpu", batch: int = 1
) -> MemoryMeasurement:
    """Run one forward on a random ``(batch, *input_shape)`` input on ``device`` and report peaks.

    The model is moved to ``device`` for the run and back afterwards, as in ``measure_latency``; on CUDA the
    baseline includes the weights, so ``delta_bytes`` is the forward's activations and workspace.
    """
    dev = torch.device(device)
    shape = tuple(int(s) for s in input_shape)
    before = next(model.parameters(), torch.empty(0)).device
    try:
        model.to(dev)
        with eval_mode(model), torch.inference_mode():
            return _peak(model, torch.randn(batch, *shape, device=dev), dev, batch, shape)
    finally:
        model.to(before)


def _peak(model: nn.Module, x: torch.Tensor, dev: torch.device, batch: int, shape: tuple[int, ...]) -> MemoryMeasurement:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        model(x)
        torch.cuda.synchronize(dev)
        return MemoryMeasurement(torch.cuda.max_memory_allocated(dev), base, str(dev), "cuda_allocated", batch, shape)
    profiled = _profiled_peak(model, x)
    if profiled is not None:
        return MemoryMeasurement(profiled, 0, "cpu", "torch_profiler", batch, shape)
    rss = _status_kib("VmRSS")
    if rss is not None and _reset_hwm():
        model(x)
        peak = _status_kib("VmHWM")
        if peak is not None:
            return MemoryMeasurement(peak * 1024, rss * 1024, "cpu", "rss_hwm", batch, shape)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model(x)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return MemoryMeasurement(after * 1024, before * 1024, "cpu", "ru_maxrss", batch, shape)
