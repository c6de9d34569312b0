"""One traced look at a model: spatial sizes from forward hooks, coupled channels from Torch-Pruning."""

from __future__ import annotations

from typing import Any

import torch
import torch_pruning as tp
from torch import nn
from torch_pruning import ops

from morph.errors import UnsupportedLayerError
from morph.groups._rules import NORM_TYPES, check_op, layer_info
from morph.layers import LayerRules
from morph.modes import eval_mode


def record_shapes(model: nn.Module, x: torch.Tensor, rules: LayerRules
                  ) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Layer name → (input shape, output shape), in forward order, from one no-grad forward."""
    seen: dict[str, list[tuple[tuple[int, ...], tuple[int, ...]]]] = {}
    handles = []
    for name, m in model.named_modules():
        if layer_info(name, m, rules) is None:
            continue

        def hook(mod: nn.Module, inp: Any, out: Any, name: str = name) -> None:
            seen.setdefault(name, []).append((tuple(inp[0].shape), tuple(out.shape)))

        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    for name, calls in seen.items():
        if len(calls) != 1:
            m = model.get_submodule(name)
            raise UnsupportedLayerError(f"{name} ({type(m).__name__}): called {len(calls)} times in one forward "
                                        "(shared weights have no channel rule)")
    return {n: c[0] for n, c in seen.items()}


def dependency_graph(model: nn.Module, x: torch.Tensor, rules: LayerRules) -> tp.DependencyGraph:
    """Torch-Pruning's graph (it walks ``grad_fn``s, so grad must be on), with every op checked; layer types
    Torch-Pruning does not know come with their rule's pruner."""
    with torch.enable_grad():
        dg = tp.DependencyGraph().build_dependency(model, example_inputs=x, customized_pruners=rules.pruners() or None)
    for mod, node in dg.module2node.items():
        _check_node(mod, node, rules)
    return dg


def _check_node(mod: Any, node: Any, rules: LayerRules) -> None:
    where = node._name or f"op#{getattr(mod, 'id', '?')}"
    if isinstance(mod, nn.Module) and not type(mod).__module__.startswith("torch_pruning"):
        if layer_info(where, mod, rules) is None and not isinstance(mod, NORM_TYPES):
            raise UnsupportedLayerError(f"{where} ({type(mod).__name__}): no channel rule for this module")
        return
    if isinstance(mod, nn.Parameter):
        raise UnsupportedLayerError(f"{where} (Parameter): a parameter used outside a module has no channel rule")
    if isinstance(mod, (ops._OutputOp,)):
        return
    if isinstance(mod, ops._ConcatOp):
        dim = getattr(node.grad_fn, "_saved_dim", 1)
        if dim not in (1, -3):
            raise UnsupportedLayerError(f"{where} (cat): concatenation along dim {dim}, not channels")
        return
    if isinstance(mod, ops._ReshapeOp):
        if not _feeds_only_flat(node, rules):
            raise UnsupportedLayerError(f"{where} ({node.grad_fn.name()}): a reshape that does not flatten "
                                        "into a linear layer can mix channels")
        return
    if isinstance(mod, ops._ElementWiseOp):
        if node.inputs:  # ops with no traced inputs sit on the weight side (e.g. a linear's transpose)
            check_op(node.grad_fn, where)
        return
    name = node.grad_fn.name() if hasattr(node.grad_fn, "name") else type(mod).__name__
    raise UnsupportedLayerError(f"{where} ({name}): channel split/slice/expand has no channel rule")


def _feeds_only_flat(node: Any, rules: LayerRules) -> bool:
    """True when everything downstream of a reshape reaches flat-input layers (linear) through pass-through
    ops only."""
    stack, seen = list(node.outputs), set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        rule = rules.for_module(n.module) if isinstance(n.module, nn.Module) else None
        if rule is not None and rule.flat_input:
            continue
        if isinstance(n.module, ops._ElementWiseOp) or isinstance(n.module, ops._ReshapeOp):
            stack.extend(n.outputs)
            continue
        return False
    return True
