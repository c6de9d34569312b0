"""What a channel costs: parameters, FLOPs or latency on a device (a roofline or a calibrated model)."""

from __future__ import annotations

from morph.resources.calibrated import CalibratedDevice, KindCoefficients, layer_features, layer_kind
from morph.resources.cost import (
    RESOURCES, Resource, alive_in_out, graph_cost, layer_costs, register_resource, resource_names,
)
from morph.resources.devices import DEVICES, Device, DeviceProfile, add_device, get_device, register_device
from morph.resources.terms import Terms, compute_terms, flop_terms, memory_terms, param_terms

__all__ = [
    "DEVICES", "RESOURCES", "CalibratedDevice", "Device", "DeviceProfile", "KindCoefficients", "Resource", "Terms",
    "add_device", "alive_in_out", "compute_terms", "flop_terms", "get_device", "graph_cost", "layer_costs",
    "layer_features", "layer_kind", "memory_terms", "param_terms", "register_device", "register_resource",
    "resource_names",
]
