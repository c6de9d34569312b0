"""Forward-pass latency with every sample kept (harness conventions §2).

Protocol: eval mode, ``inference_mode``, a fixed random input already on the device, ``warmup`` untimed calls
(covering lazy init and cuDNN autotuning), then timed calls until both ``min_runs`` samples and ``min_time_s``
seconds are reached (MLPerf's rule), capped at ``max_runs``.
- CPU: ``perf_counter`` around each call, under ``torch.set_num_threads(threads)`` (restored afterwards).
- CUDA: per call ``synchronize → perf_counter + start event → forward → end event → synchronize``; ``samples_s``
  holds the wall time (includes launch overhead, which dominates small nets at batch 1) and ``gpu_samples_s``
  the event time. ``cudnn.benchmark`` is set for the run and recorded; ``channels_last`` and a reduced-precision
  autocast ``dtype`` are optional.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from bench.measure._modes import cudnn_benchmark, eval_mode, torch_threads

Dtype = Literal["float32", "float16", "bfloat16"]
HIGH_VARIANCE = 0.1  # IQR / median above which a measurement is flagged (torch.utils.benchmark's first level)


@dataclass(frozen=True)
class LatencyMeasurement:
    """All timed samples of one (model, device, batch, input) setting, in seconds per forward call."""

    samples_s: tuple[float, ...]
    device: str
    threads: int
    batch: int
    input_shape: tuple[int, ...]
    cudnn_benchmark: bool | None = None
    gpu_samples_s: tuple[float, ...] | None = None
    warmup: int = 0
    channels_last: bool = False
    dtype: str = "float32"

    @property
    def n(self) -> int:
        return len(self.samples_s)

    def _q(self, q: float) -> float:
        return float(np.quantile(self.samples_s, q)) if self.samples_s else math.nan  # linear interpolation

    @property
    def median(self) -> float:
        return self._q(0.5)

    @property
    def q25(self) -> float:
        return self._q(0.25)

    @property
    def q75(self) -> float:
        return self._q(0.75)

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    @property
    def p90(self) -> float:
        return self._q(0.9)

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples_s)) if self.samples_s else math.nan

    @property
    def high_variance(self) -> bool:
        """IQR above 10 % of the median: the machine was probably busy; treat the number with care."""
        return self.iqr > HIGH_VARIANCE * self.median

    def summary(self) -> dict[str, float]:
        return {"median_s": self.median, "q25_s": self.q25, "q75_s": self.q75, "iqr_s": self.iqr,
                "p90_s": self.p90, "mean_s": self.mean, "n": self.n}

    def to_dict(self) -> dict[str, Any]:
        """Raw fields plus the summary, for :attr:`bench.store.StageRecord.latency`."""
        return {**asdict(self), **self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyMeasurement:
        gpu = data.get("gpu_samples_s")
        return cls(
            tuple(data["samples_s"]), data["device"], data["threads"], data["batch"], tuple(data["input_shape"]),
            data.get("cudnn_benchmark"), tuple(gpu) if gpu is not None else None, data.get("warmup", 0),
            data.get("channels_last", False), data.get("dtype", "float32"),
        )

    def __repr__(self) -> str:
        where = f"{self.device}×{self.threads}" if self.device == "cpu" else self.device
        flag = ", high variance" if self.high_variance else ""
        return f"{self.median * 1e3:.1f} ms ±{self.iqr * 1e3:.1f} IQR (n={self.n}, {where}{flag})"


def sample_loop(
    call: Callable[[], None], clock: Callable[[Callable[[], None]], tuple[float, float | None]],
    warmup: int, min_runs: int, min_time_s: float, max_runs: int,
) -> tuple[list[float], list[float]]:
    """Warm up, then time ``call`` with ``clock`` until both limits are met; returns (wall, device) samples."""
    for _ in range(warmup):
        call()
    wall: list[float] = []
    device: list[float] = []
    start = time.perf_counter()
    while len(wall) < max_runs and (len(wall) < min_runs or time.perf_counter() - start < min_time_s):
        w, d = clock(call)
        wall.append(w)
        if d is not None:
            device.append(d)
    return wall, device


def wall_clock(call: Callable[[], None]) -> tuple[float, None]:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0, None


def cuda_clock(
    synchronize: Callable[[], None] | None = None, event: Callable[..., Any] | None = None
) -> Callable[[Callable[[], None]], tuple[float, float]]:
    """A clock that times one call by wall time and CUDA events (injectable, so it can be checked on CPU)."""
    sync = synchronize or torch.cuda.synchronize
    make_event = event or torch.cuda.Event

    def clock(call: Callable[[], None]) -> tuple[float, float]:
        begin, end = make_event(enable_timing=True), make_event(enable_timing=True)
        sync()
        t0 = time.perf_counter()
        begin.record()
        call()
        end.record()
        sync()
        return time.perf_counter() - t0, begin.elapsed_time(end) / 1e3

    return clock


def measure_latency(
    model: nn.Module, input_shape: Sequence[int], device: str | torch.device = "cpu", batch: int = 1,
    threads: int | None = None, warmup: int = 10, min_runs: int = 20, min_time_s: float = 1.0,
    max_runs: int = 10_000, cudnn_benchmark_flag: bool = True, channels_last: bool = False,
    dtype: Dtype = "float32",
) -> LatencyMeasurement:
    """Time ``model`` on a random ``(batch, *input_shape)`` input.

    Args:
        input_shape: one item's shape, e.g. ``(3, 256, 256)``.
        device: "cpu" or a CUDA device; the model is moved there for the run and moved back after.
        threads: CPU threads for the run (None: leave as is); recorded either way.
        dtype: "float16"/"bfloat16" run under autocast on the device.

    Returns:
        Every sample, so medians, IQRs and percentiles can be recomputed later.
    """
    dev = torch.device(device)
    is_cuda = dev.type == "cuda"
    shape = tuple(int(s) for s in input_shape)
    before = next(model.parameters(), torch.empty(0)).device
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    autocast = torch.autocast(dev.type, dtype=getattr(torch, dtype)) if dtype != "float32" else nullcontext()
    bench_ctx = cudnn_benchmark(cudnn_benchmark_flag) if is_cuda else nullcontext()
    try:
        model.to(dev)
        if channels_last:
            model.to(memory_format=fmt)
        with torch_threads(threads) as used, eval_mode(model), torch.inference_mode(), bench_ctx, autocast:
            x = torch.randn(batch, *shape, device=dev).contiguous(memory_format=fmt)
            clock = cuda_clock() if is_cuda else wall_clock
            wall, gpu = sample_loop(lambda: model(x), clock, warmup, min_runs, min_time_s, max_runs)
    finally:
        model.to(before)
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
    return LatencyMeasurement(
        tuple(wall), str(dev), used, batch, shape, cudnn_benchmark_flag if is_cuda else None,
        tuple(gpu) if is_cuda else None, warmup, channels_last, dtype,
    )


@dataclass(frozen=True)
class TimingConditions:
    """How one latency is taken: the one set of conditions both the reported latency and a measured budget
    (``budget_by = "measurement"``) use, so a budget is searched under the conditions it is judged by."""

    batch: int = 1
    threads: int | None = None
    warmup: int = 10
    min_runs: int = 20
    min_time_s: float = 1.0
    cudnn_benchmark: bool = True
    channels_last: bool = False
    dtype: Dtype = "float32"

    def measure(self, model: nn.Module, input_shape: Sequence[int], device: str | torch.device = "cpu"
                ) -> LatencyMeasurement:
        return measure_latency(model, input_shape, device=device, batch=self.batch, threads=self.threads,
                               warmup=self.warmup, min_runs=self.min_runs, min_time_s=self.min_time_s,
                               cudnn_benchmark_flag=self.cudnn_benchmark, channels_last=self.channels_last,
                               dtype=self.dtype)


def in_passes(items: Sequence[Any], time: Callable[[Any], Any], rounds: int,
              on_each: Callable[[int, int], None] | None = None) -> list[list[Any]]:
    """``time(item)`` for every item, once per pass over all of them, ``rounds`` passes; returns each item's
    results in pass order. Why passes, not repeats in place: a shared VM's speed drifts over minutes (this
    project's 2-core AMD EPYC timed one U-Net at 9.6 and 14.8 ms within one pass of a remeasure), and items timed
    one after another are compared at different speeds; passes spread the drift over all of them.
    ``on_each(done, total)`` after every timing."""
    from bench.errors import BenchError

    if rounds < 1:
        raise BenchError(f"--rounds: expected at least 1, got {rounds}")
    out: list[list[Any]] = [[] for _ in items]
    for r in range(rounds):
        for i, item in enumerate(items):
            out[i].append(time(item))
            if on_each is not None:
                on_each(r * len(items) + i + 1, rounds * len(items))
    return out
