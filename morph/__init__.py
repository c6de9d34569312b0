"""morph: MorphNet for PyTorch segmentation networks.

Sparsify with a resource-weighted regularizer, read alive widths, tie them by symmetry, expand with a
width multiplier under a budget, and rebuild the model at the new widths. Torch (and Torch-Pruning for
the channel graph) only: no files, suites or CLI here; the ``bench`` harness composes these pieces.
"""

from __future__ import annotations

from morph.errors import MorphError, UnsupportedLayerError
from morph.graph import ChannelGraph, ChannelGroup, FixedInput, Layer
from morph.groups import build_graph
from morph.models import create_model, model_names
from morph.proximal import ProximalStep
from morph.rebuild import rebuild
from morph.regularizer import MorphNetRegularizer
from morph.resources import DEVICES, RESOURCES, graph_cost, register_device
from morph.search import MultiplierResult, graph_cost_fn, uniform_multiplier_widths, width_multiplier_search
from morph.sources import SOURCES
from morph.symmetry import apply_ties, symmetry_ties
from morph.widths import derive_widths, group_widths

__all__ = [
    "DEVICES",
    "RESOURCES",
    "SOURCES",
    "ChannelGraph",
    "ChannelGroup",
    "FixedInput",
    "Layer",
    "MorphError",
    "MorphNetRegularizer",
    "MultiplierResult",
    "ProximalStep",
    "UnsupportedLayerError",
    "apply_ties",
    "build_graph",
    "create_model",
    "derive_widths",
    "graph_cost",
    "graph_cost_fn",
    "group_widths",
    "model_names",
    "rebuild",
    "register_device",
    "symmetry_ties",
    "uniform_multiplier_widths",
    "width_multiplier_search",
]
