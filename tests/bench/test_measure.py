"""Parameter, MAC and latency measurements, pinned by hand formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from bench.measure import (
    LatencyMeasurement, count_macs, count_params, cudnn_benchmark, eval_mode, measure_latency, measure_peak_memory,
    torch_threads,
)
from bench.measure.latency import cuda_clock, sample_loop
from morph.models import create_model, unet_widths


def small_net() -> nn.Sequential:
    #  3×16×16 ─conv3x3(3→8, pad 1)─ 8×16×16 ─relu─ maxpool 2 ─ 8×8×8 ─conv1x1(8→4)─ 4×8×8
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 4, 1))


def test_params_by_formula() -> None:
    net = small_net()
    assert count_params(net) == (8 * 3 * 9 + 8) + (4 * 8 + 4)
    net[3].weight.requires_grad_(False)
    assert count_params(net) == (8 * 3 * 9 + 8) + 4
    assert count_params(net, trainable_only=False) == (8 * 3 * 9 + 8) + (4 * 8 + 4)


def test_macs_by_formula() -> None:
    count = count_macs(small_net(), (1, 3, 16, 16))
    conv = 16 * 16 * 8 * 3 * 9 + 8 * 8 * 4 * 8
    pool = 8 * 8 * 8 * 4  # one comparison per window element
    assert count.by_operator == {"conv": conv, "max_pool2d": pool}
    assert count.macs == conv + pool and count.flops == 2 * (conv + pool) and count.conv_macs == conv
    assert count.skipped == {} and count.input_shape == (1, 3, 16, 16)


def test_count_restores_train_mode_and_scales_with_batch() -> None:
    net = small_net().train()
    assert count_macs(net, (2, 3, 16, 16)).macs == 2 * count_macs(net, (1, 3, 16, 16)).macs
    assert net.training


def test_blog_unet_base16_against_hand_count() -> None:
    size, w = 32, unet_widths(16)
    s = [size // 2**l for l in range(5)]
    conv = bn = pool = 0
    for l in range(5):
        cin = 3 if l == 0 else w[f"enc{l - 1}.1"]
        for i, c_in in enumerate((cin, w[f"enc{l}.0"])):
            conv += s[l] ** 2 * w[f"enc{l}.{i}"] * c_in * 9
            bn += 2 * s[l] ** 2 * w[f"enc{l}.{i}"]  # eval BatchNorm with affine: 2 per element (fvcore)
        if l < 4:
            pool += s[l + 1] ** 2 * w[f"enc{l}.1"] * 4
    cin = w["enc4.1"]
    for l in reversed(range(4)):
        conv += s[l + 1] ** 2 * cin * w[f"up{l}"] * 4  # 2×2 stride-2 transpose conv, counted on its input
        for i, c_in in enumerate((w[f"up{l}"] + w[f"enc{l}.1"], w[f"dec{l}.0"])):
            conv += s[l] ** 2 * w[f"dec{l}.{i}"] * c_in * 9
            bn += 2 * s[l] ** 2 * w[f"dec{l}.{i}"]
        cin = w[f"dec{l}.1"]
    conv += s[0] ** 2 * cin * 1  # 1×1 head, one class
    count = count_macs(create_model("unet", base=16), (1, 3, size, size))
    assert count.by_operator == {"conv": conv, "batch_norm": bn, "max_pool2d": pool}
    assert count.skipped == {}


def test_latency_statistics_from_fixed_samples() -> None:
    m = LatencyMeasurement((0.010, 0.012, 0.011, 0.013, 0.030), "cpu", 2, 1, (3, 8, 8))
    # sorted: 10 11 12 13 30 ms; linear interpolation at (n-1)·q
    assert m.median == pytest.approx(0.012)
    assert m.q25 == pytest.approx(0.011) and m.q75 == pytest.approx(0.013) and m.iqr == pytest.approx(0.002)
    assert m.p90 == pytest.approx(0.013 + 0.6 * (0.030 - 0.013))
    assert m.mean == pytest.approx(0.0152) and m.n == 5
    assert repr(m) == "12.0 ms ±2.0 IQR (n=5, cpu×2, high variance)"
    assert LatencyMeasurement.from_dict(m.to_dict()) == m
    steady = LatencyMeasurement((0.0124,) * 4, "cuda:0", 1, 1, (3, 8, 8))
    assert repr(steady) == "12.4 ms ±0.0 IQR (n=4, cuda:0)" and not steady.high_variance


def test_real_cpu_measurement_records_and_restores_threads() -> None:
    before = torch.get_num_threads()
    net = small_net().train()
    m = measure_latency(net, (3, 16, 16), threads=1, warmup=1, min_runs=5, min_time_s=0.0, batch=2)
    assert m.n >= 5 and all(t > 0 for t in m.samples_s)
    assert (m.threads, m.batch, m.input_shape, m.device) == (1, 2, (3, 16, 16), "cpu")
    assert m.cudnn_benchmark is None and m.gpu_samples_s is None
    assert torch.get_num_threads() == before and net.training


def test_runs_until_min_time() -> None:
    calls: list[int] = []
    wall, _ = sample_loop(lambda: calls.append(1), lambda f: (f(), (0.001, None))[1], 2, 3, 0.05, 10_000)
    assert len(wall) >= 3 and len(calls) == len(wall) + 2


def test_cuda_clock_logic_with_fake_events() -> None:
    """The CUDA timing path, with events and synchronize replaced, so it runs on a CPU-only machine."""
    log: list[str] = []

    class Event:
        def __init__(self, enable_timing: bool) -> None:
            assert enable_timing

        def record(self) -> None:
            log.append("record")

        def elapsed_time(self, end: Event) -> float:
            return 5.0  # milliseconds

    clock = cuda_clock(synchronize=lambda: log.append("sync"), event=Event)
    wall, gpu = sample_loop(lambda: log.append("call"), clock, 0, 2, 0.0, 100)
    assert gpu == [0.005, 0.005] and len(wall) == 2
    assert log[:5] == ["sync", "record", "call", "record", "sync"]


def test_restoring_context_managers() -> None:
    before = torch.get_num_threads()
    with torch_threads(1) as used:
        assert used == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    net = small_net().train()
    net[1].eval()
    with eval_mode(net):
        assert not any(m.training for m in net.modules())
    assert net.training and not net[1].training
    flag = torch.backends.cudnn.benchmark
    with cudnn_benchmark(not flag):
        assert torch.backends.cudnn.benchmark is (not flag)
    assert torch.backends.cudnn.benchmark is flag


def test_cpu_peak_memory_sees_a_big_activation() -> None:
    net = nn.Conv2d(1, 64, 1)  # 64 × 512 × 512 float32 output = 64 MiB
    mem = measure_peak_memory(net, (1, 512, 512))
    assert mem.device == "cpu" and mem.method == "torch_profiler"
    assert mem.delta_bytes == 64 * 512 * 512 * 4


def test_cpu_peak_memory_counts_tensors_alive_together() -> None:
    """conv → ReLU (not in place) → conv: the first conv's 64 MiB output and the ReLU's 64 MiB copy are alive
    together; then the first is freed before the last conv's 4 MiB output: peak 128 MiB, worked out by hand."""
    net = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 4, 3, padding=1))
    mem = measure_peak_memory(net, (1, 512, 512))
    assert mem.method == "torch_profiler" and mem.delta_bytes == 2 * 64 * 512 * 512 * 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_real_cuda_measurement() -> None:
    net = small_net()
    m = measure_latency(net, (3, 16, 16), device="cuda", warmup=3, min_runs=10, min_time_s=0.0)
    assert m.n >= 10 and m.gpu_samples_s is not None and len(m.gpu_samples_s) == m.n
    assert m.cudnn_benchmark is True and next(net.parameters()).device.type == "cpu"
    assert all(g <= w * 1.5 + 1e-4 for g, w in zip(m.gpu_samples_s, m.samples_s))
    mem = measure_peak_memory(net, (3, 16, 16), device="cuda")  # a CPU model, as the pipeline passes it
    assert mem.method == "cuda_allocated" and mem.peak_bytes > 0 and mem.delta_bytes > 0
    assert next(net.parameters()).device.type == "cpu"
    assert not math.isnan(float(np.median(m.gpu_samples_s)))
