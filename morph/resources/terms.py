"""What one layer costs as a function of its alive input and output channel counts (morphnet-facts §1.2–1.4).

Every resource is the same shape per layer and roofline side::

    cost = bilinear · n_in · n_out + lin_in · n_in + lin_out · n_out + dw · n_out + const
    reg  = bilinear · (n_in · r_out + n_out · r_in) + lin_in · r_in + lin_out · r_out + dw · (r_in + r_out)

where ``n`` are alive counts and ``r`` sums of channel strengths; ``reg`` is MorphNet's relaxation (§1.6; the
depthwise term ``dw`` is its special case; ``const``, a calibrated latency's per-call cost, has no gradient).
Latency has two sides (compute, memory) and takes whichever binds. Which spatial size a layer's multiply-adds
scale with is its layer rule's (:mod:`morph.layers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from morph.graph import Layer
from morph.layers import rule_of

if TYPE_CHECKING:
    from morph.resources.devices import DeviceProfile


@dataclass(frozen=True)
class Terms:
    """Coefficients of one layer's cost on one roofline side (see the module docstring)."""

    bilinear: float = 0.0
    lin_in: float = 0.0
    lin_out: float = 0.0
    dw: float = 0.0
    const: float = 0.0

    def cost(self, n_in: Any, n_out: Any) -> Any:
        return self.bilinear * n_in * n_out + self.lin_in * n_in + (self.lin_out + self.dw) * n_out + self.const

    def reg(self, n_in: Any, n_out: Any, r_in: Any, r_out: Any) -> Any:
        return (self.bilinear * (n_in * r_out + n_out * r_in) + self.lin_in * r_in + self.lin_out * r_out
                + self.dw * (r_in + r_out))

    def scaled(self, s: float) -> Terms:
        return Terms(self.bilinear * s, self.lin_in * s, self.lin_out * s, self.dw * s, self.const * s)

    def __add__(self, other: Terms) -> Terms:
        return Terms(self.bilinear + other.bilinear, self.lin_in + other.lin_in, self.lin_out + other.lin_out,
                     self.dw + other.dw, self.const + other.const)


def _spatial(layer: Layer) -> int:
    h, w = rule_of(layer).cost_hw(layer)
    return h * w


def _kernel_area(layer: Layer) -> int:
    return layer.kernel[0] * layer.kernel[1]


def _check(layer: Layer) -> None:
    rule_of(layer)  # raises UnsupportedLayerError for a kind no rule covers


def flop_terms(layer: Layer, batch: int = 1) -> Terms:
    """FLOPs (2 per multiply-add) of ``batch`` examples: C = 2·H_out·W_out·k_h·k_w (MatMul: C = 2)."""
    _check(layer)
    c = 2.0 * _spatial(layer) * _kernel_area(layer) * batch
    return Terms(dw=c) if layer.depthwise else Terms(bilinear=c / layer.groups)


def param_terms(layer: Layer, with_bias: bool = False) -> Terms:
    """Weights only (MorphNet's model size, C = k_h·k_w); ``with_bias`` adds one per output channel."""
    _check(layer)
    c = float(_kernel_area(layer))
    bias = 1.0 if with_bias and layer.bias else 0.0
    return Terms(dw=c, lin_out=bias) if layer.depthwise else Terms(bilinear=c / layer.groups, lin_out=bias)


def memory_terms(layer: Layer, device: DeviceProfile, batch: int = 1) -> Terms:
    """Seconds to move input + output activations (``batch`` examples) and weights once at the bandwidth."""
    _check(layer)
    b = device.bytes_per_element / device.mem_bandwidth
    hi, wi = layer.in_hw
    ho, wo = layer.out_hw
    weights = param_terms(layer)
    return Terms(bilinear=weights.bilinear * b, dw=weights.dw * b,
                 lin_in=hi * wi * batch * b, lin_out=ho * wo * batch * b)


def compute_terms(layer: Layer, device: DeviceProfile, batch: int = 1) -> Terms:
    """Seconds of arithmetic at the device's peak."""
    return flop_terms(layer, batch).scaled(1.0 / device.peak_flops)

