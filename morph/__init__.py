"""morph: MorphNet for PyTorch segmentation networks.

Sparsify with a resource-weighted regularizer, read alive widths, tie them by symmetry, expand with a
width multiplier under a budget, and rebuild the model at the new widths. Torch (and Torch-Pruning for
the channel graph) only: no files, suites or CLI here; the ``bench`` harness composes these pieces.

Names are loaded on first use (PEP 562), so ``import morph.errors`` stays cheap for tools such as
``bench report`` that never touch a model.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "MorphError": "morph.errors",
    "UnsupportedLayerError": "morph.errors",
    "ChannelGraph": "morph.graph",
    "ChannelGroup": "morph.graph",
    "FixedInput": "morph.graph",
    "Layer": "morph.graph",
    "build_graph": "morph.groups",
    "LAYERS": "morph.layers",
    "LayerRule": "morph.layers",
    "LayerSpec": "morph.layers",
    "register_layer": "morph.layers",
    "Registry": "morph.registry",
    "GroupStrength": "morph.sources",
    "Member": "morph.sources",
    "register_source": "morph.sources",
    "Resource": "morph.resources",
    "register_resource": "morph.resources",
    "create_model": "morph.models",
    "model_names": "morph.models",
    "ProximalStep": "morph.proximal",
    "rebuild": "morph.rebuild",
    "MorphNetRegularizer": "morph.regularizer",
    "DEVICES": "morph.resources",
    "RESOURCES": "morph.resources",
    "graph_cost": "morph.resources",
    "register_device": "morph.resources",
    "MultiplierResult": "morph.search",
    "graph_cost_fn": "morph.search",
    "uniform_multiplier_widths": "morph.search",
    "width_multiplier_search": "morph.search",
    "SOURCES": "morph.sources",
    "apply_ties": "morph.symmetry",
    "symmetry_ties": "morph.symmetry",
    "derive_widths": "morph.widths",
    "group_widths": "morph.widths",
    "width_floor": "morph.widths",
    "StrengthController": "morph.schedule",
    "LearnSchedule": "morph.schedule",
}

__all__ = [
    "DEVICES", "LAYERS", "RESOURCES", "SOURCES", "ChannelGraph", "ChannelGroup", "FixedInput", "GroupStrength", "Layer",
    "LayerRule", "LayerSpec", "LearnSchedule", "Member", "MorphError", "MorphNetRegularizer", "MultiplierResult",
    "ProximalStep", "Registry", "Resource", "StrengthController", "UnsupportedLayerError", "apply_ties", "build_graph",
    "create_model", "derive_widths", "graph_cost", "graph_cost_fn", "group_widths", "model_names", "rebuild",
    "register_device", "register_layer", "register_resource", "register_source", "symmetry_ties",
    "uniform_multiplier_widths", "width_floor", "width_multiplier_search",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'morph' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """Keeps ``morph.rebuild`` the function: the import system sets a loaded submodule as an attribute of its
    package, which would otherwise replace an export of the same name (``rebuild`` in ``morph.rebuild``) with the
    module, depending on which import ran first. ``from morph.rebuild import …`` still reaches the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from morph.errors import MorphError, UnsupportedLayerError
    from morph.graph import ChannelGraph, ChannelGroup, FixedInput, Layer
    from morph.groups import build_graph
    from morph.layers import LAYERS, LayerRule, LayerSpec, register_layer
    from morph.models import create_model, model_names
    from morph.proximal import ProximalStep
    from morph.rebuild import rebuild
    from morph.regularizer import MorphNetRegularizer
    from morph.registry import Registry
    from morph.resources import DEVICES, RESOURCES, Resource, graph_cost, register_device, register_resource
    from morph.schedule import LearnSchedule, StrengthController
    from morph.search import MultiplierResult, graph_cost_fn, uniform_multiplier_widths, width_multiplier_search
    from morph.sources import SOURCES, GroupStrength, Member, register_source
    from morph.symmetry import apply_ties, symmetry_ties
    from morph.widths import derive_widths, group_widths, width_floor
