"""Parameter and MAC counts.

MACs come from fvcore's ``FlopCountAnalysis``, which counts **one per multiply-add** (so its "flops" are MACs);
``flops`` here is 2 × MACs, MorphNet's and ``torch.utils.flop_counter``'s convention.

Which ops count (checked on the blog U-Net at base 16 and on smp Unet/resnet18):
- fvcore's own handles: convolutions and transposed convolutions (no bias term), matmul/linear, batch_norm
  (eval: 2 per element with affine), bilinear upsampling (4 per output element), nearest upsampling (1 per
  output element), adaptive average pooling.
- fvcore reports as *unsupported* ``aten::max_pool2d`` (the U-Net's 4 pools, resnet18's stem pool) and
  ``aten::add``/``add_`` (resnet18's residual sums). We add handles: max pooling = kernel area per output
  element (one comparison per window element), add = one per output element.
- fvcore *ignores* ReLU, cat, pad, view-like ops: they stay at zero and are listed in ``skipped`` only when fvcore
  reports them as unsupported. Anything still unsupported is listed in ``skipped`` and counted as zero.
So ``macs`` is "MAC-equivalents": exact for convolutions, about one op per element elsewhere. ``conv_macs``
(convolutions and linear layers only) is the number comparable with MorphNet's FLOP cost.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.measure._modes import eval_mode

_CONV_OPS = ("conv", "linear", "matmul", "addmm", "mm", "bmm", "einsum")


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; shared parameters count once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class ComputeCount:
    """MACs of one forward pass at ``input_shape`` (batch included), with fvcore's per-operator breakdown."""

    macs: int
    by_operator: dict[str, int]
    skipped: dict[str, int] = field(default_factory=dict)
    input_shape: tuple[int, ...] = ()

    @property
    def flops(self) -> int:
        """2 per multiply-add."""
        return 2 * self.macs

    @property
    def conv_macs(self) -> int:
        """Convolution and linear MACs only."""
        return sum(v for k, v in self.by_operator.items() if k in _CONV_OPS)


def _max_pool_handle(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import get_shape

    out_elems = math.prod(get_shape(outputs[0]))
    kernel = _constant_ints(inputs[1])
    if kernel:
        area = math.prod(kernel) if len(kernel) > 1 else kernel[0] ** 2
    else:  # kernel not a constant in the trace: fall back to the reduction ratio
        area = max(1, round(math.prod(get_shape(inputs[0])) / max(out_elems, 1)))
    return out_elems * area


def _constant_ints(value: Any) -> list[int]:
    """The ints of a traced constant list argument (a ``prim::ListConstruct`` of constants), else []."""
    direct = value.toIValue()
    if isinstance(direct, (list, tuple)):
        return [int(v) for v in direct]
    if isinstance(direct, int):
        return [direct]
    node = value.node()
    if node.kind() == "prim::ListConstruct":
        items = [i.toIValue() for i in node.inputs()]
        if all(isinstance(i, int) for i in items):
            return [int(i) for i in items]
    return []


def _elementwise_handle(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import get_shape

    return math.prod(get_shape(outputs[0]))


EXTRA_HANDLES = {
    "aten::max_pool2d": _max_pool_handle,
    "aten::add": _elementwise_handle,
    "aten::add_": _elementwise_handle,
}


def count_macs(model: nn.Module, input_shape: Sequence[int], device: str | torch.device = "cpu") -> ComputeCount:
    """Count MACs of ``model`` on a zero input of ``input_shape`` (with batch, e.g. ``(1, 3, 256, 256)``).

    The model is traced in eval mode (BatchNorm as at inference), without gradients; its train/eval flags are
    restored. fvcore's warnings and log messages are silenced; what it could not count is in ``skipped``.

    Raises:
        BenchError: when fvcore is not installed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fvcore.nn import FlopCountAnalysis
    except ImportError:
        raise BenchError("count_macs needs fvcore: pip install fvcore") from None
    shape = tuple(int(s) for s in input_shape)
    example = torch.zeros(shape, device=device)
    logger = logging.getLogger("fvcore")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with eval_mode(model), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(model, example).set_op_handle(**EXTRA_HANDLES)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            total = int(analysis.total())
            by_op = {k: int(v) for k, v in analysis.by_operator().items() if v}
            skipped = {k: int(v) for k, v in analysis.unsupported_ops().items()}
    finally:
        logger.setLevel(level)
    return ComputeCount(total, by_op, skipped, shape)
