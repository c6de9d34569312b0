"""What a model costs: parameters, MACs (fvcore), latency (every sample kept) and peak memory."""

from __future__ import annotations

from bench.measure._modes import cudnn_benchmark, eval_mode, torch_threads
from bench.measure.counting import ComputeCount, count_macs, count_params
from bench.measure.latency import LatencyMeasurement, TimingConditions, in_passes, measure_latency
from bench.measure.memory import MemoryMeasurement, measure_peak_memory

__all__ = [
    "ComputeCount", "LatencyMeasurement", "MemoryMeasurement", "TimingConditions", "count_macs", "count_params",
    "cudnn_benchmark",
    "eval_mode", "in_passes", "measure_latency", "measure_peak_memory", "torch_threads",
]
