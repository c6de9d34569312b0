"""What a channel costs: parameters, FLOPs or roofline latency on a device profile."""

from __future__ import annotations

from morph.resources.cost import (
    RESOURCES, Resource, alive_in_out, graph_cost, layer_costs, register_resource, resource_names,
)
from morph.resources.devices import DEVICES, DeviceProfile, get_device, register_device
from morph.resources.terms import Terms, compute_terms, flop_terms, memory_terms, param_terms

__all__ = [
    "DEVICES", "RESOURCES", "DeviceProfile", "Resource", "Terms", "alive_in_out", "compute_terms", "flop_terms",
    "get_device", "graph_cost", "layer_costs", "memory_terms", "param_terms", "register_device", "register_resource",
    "resource_names",
]
