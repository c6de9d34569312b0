"""Roofline device profiles for the latency resource (peak compute and memory bandwidth).

MorphNet's own table (``morph_net/network_regularizers/resource_function.py``, morphnet-facts §1.4) is copied
as is, in SI units: its GFLOP/s and GB/s times 1e9. Like MorphNet's V100 entry, the newer GPUs use the dense
tensor-core peak (FP16/BF16) while bytes are counted at ``bytes_per_element`` (fp32 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from morph.registry import Registry
from morph.graph import Layer
from morph.resources.terms import Terms, compute_terms, memory_terms


class Device(Protocol):
    """What the latency resource needs of a device: a name and each layer's cost sides (the largest binds)."""

    name: str

    def layer_sides(self, layer: Layer, batch: int = 1) -> tuple[Terms, ...]: ...


@dataclass(frozen=True)
class DeviceProfile:
    """One roofline: ``peak_flops`` in FLOP/s, ``mem_bandwidth`` in bytes/s."""

    name: str
    peak_flops: float
    mem_bandwidth: float
    bytes_per_element: int = 4

    def layer_sides(self, layer: Layer, batch: int = 1) -> tuple[Terms, ...]:
        """The two roofline sides, compute and memory."""
        return compute_terms(layer, self, batch), memory_terms(layer, self, batch)


DEVICES: Registry[Device] = Registry("device")


def register_device(name: str, peak_flops: float, mem_bandwidth: float, bytes_per_element: int = 4) -> DeviceProfile:
    """Add a device profile; units FLOP/s and bytes/s. Returns the profile."""
    if peak_flops <= 0 or mem_bandwidth <= 0:
        raise ValueError(f"peak_flops and mem_bandwidth must be > 0, got {peak_flops} and {mem_bandwidth}")
    profile = DeviceProfile(name, float(peak_flops), float(mem_bandwidth), bytes_per_element)
    add_device(profile)
    return profile


def add_device(device: Device) -> Device:
    """Register any device object (e.g. a :class:`~morph.resources.calibrated.CalibratedDevice`) by its name."""
    DEVICES.register(device.name)(device)
    return device


def get_device(device: str | Device) -> Device:
    return DEVICES.get(device) if isinstance(device, str) else device


_G = 1e9
# MorphNet's table, unchanged (GFLOP/s, GB/s).
for _name, _flops, _bw in [
    ("K80", 8740, 480), ("P4", 5500, 192), ("T4", 8100, 300), ("P100", 9300, 732),
    ("V100", 125000, 900), ("TPUv2", 22500, 300),
    ("FLOP_LATENCY", 1, 1e20),  # infinite bandwidth: latency ∝ FLOPs
    ("MEMORY_LATENCY", 1e20, 1),  # infinite compute: latency ∝ bytes
]:
    register_device(_name, _flops * _G, _bw * _G)

# Added here (NVIDIA data sheets, dense tensor-core FP16/BF16 peak, HBM bandwidth of the SXM parts):
register_device("A100", 312_000 * _G, 2039 * _G)  # A100 80GB SXM: 312 TFLOP/s, 2.039 TB/s
register_device("H100", 989_000 * _G, 3350 * _G)  # H100 SXM: 989 TFLOP/s, 3.35 TB/s
register_device("H200", 989_000 * _G, 4800 * _G)  # H200 SXM: 989 TFLOP/s (same die as H100), 4.8 TB/s
# An estimate, not a measurement: 2 cores × 3 GHz × 32 FP32 FLOP/cycle (two AVX2 FMA units) = 192 GFLOP/s,
# and ~20 GB/s, a two-core share of a DDR4/DDR5 socket's streaming bandwidth.
register_device("cpu2", 192 * _G, 20 * _G)
