"""Handler tables for the graph builder: which modules are layers (their :class:`~morph.layers.LayerRule`) or
norms, and which traced ops pass channels through unchanged.

The builder knows no layer type; it looks types up here and in :mod:`morph.layers`. Torch-Pruning treats every
autograd op it does not recognise as element-wise, which is a silent wrong answer for a channel shuffle or a
channel-axis mean, so ops are checked against an allow-list instead and anything else raises
``UnsupportedLayerError``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from morph.errors import UnsupportedLayerError
from morph.layers import LayerRules, LayerSpec

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm,
)
"""Norms act on one group's channels (timm's LayerNorm2d subclasses ``nn.LayerNorm``)."""

# Substrings of autograd node names (lower case) that keep the channel axis as it is.
PASSTHROUGH_OPS: tuple[str, ...] = (
    "add", "sub", "mul", "div", "neg", "pow", "sqrt", "rsqrt", "exp", "abs", "clamp", "clone", "where",
    "relu", "hardtanh", "sigmoid", "silu", "gelu", "tanh", "hardswish", "hardsigmoid", "elu", "mish", "softplus",
    "maxpool", "avgpool", "adaptiveavgpool", "adaptivemaxpool", "upsample", "pad", "dropout", "fusedbias",
    "tbackward", "toCopy".lower(), "copyslices",
)
# Reductions and stacking pass channels through only when they do not touch the channel axis (dim 1).
_AXIS_OPS = ("mean", "sum", "stack", "amax", "amin")


def layer_info(name: str, m: nn.Module, rules: LayerRules) -> LayerSpec | None:
    """What the builder reads of a weighted module, ``None`` for a module that is not a layer."""
    rule = rules.for_module(m)
    if rule is None:
        return None
    info = rule.spec(m)
    if info.groups > 1 and not (info.groups == info.in_channels == info.out_channels):
        raise UnsupportedLayerError(f"{name} ({type(m).__name__}): grouped conv with groups="
                                    f"{info.groups} has no channel rule (only depthwise is supported)")
    return info


def check_op(grad_fn: Any, where: str) -> None:
    """Raise unless a traced functional op keeps every channel in place."""
    op = grad_fn.name() if hasattr(grad_fn, "name") else type(grad_fn).__name__
    low = op.lower()
    if any(k in low for k in _AXIS_OPS):
        dims = getattr(grad_fn, "_saved_dim", None)
        dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
        sizes = getattr(grad_fn, "_saved_self_sym_sizes", None)
        ndim = len(sizes) if sizes is not None else 4
        channel = 2 if ndim == 5 else 1  # a 5-D input here is a stack of feature maps (FPN's merge)
        if "stack" in low:
            if dims == (0,):
                return
        elif dims and all(d % ndim != channel for d in dims):
            return
        raise UnsupportedLayerError(f"{where} ({op}): reduces or stacks along the channel axis (dims {dims})")
    if any(k in low for k in PASSTHROUGH_OPS):
        return
    raise UnsupportedLayerError(f"{where} ({op}): no channel rule for this op")
