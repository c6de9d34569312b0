"""The calibrated latency device: per-layer predictions, the penalty it gives, and kind fallbacks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from morph import MorphNetRegularizer
from morph.errors import MorphError
from morph.groups import build_graph
from morph.resources import CalibratedDevice, KindCoefficients, add_device, graph_cost, layer_costs, layer_kind
from morph.resources.calibrated import graph_features
from tests.morph.nets import Concat, Depthwise

DEVICE = CalibratedDevice("test-calibrated", {
    "conv3x3": KindCoefficients(const=1e-5, flop=1e-9, in_elem=2e-8, out_elem=3e-8, weight=4e-8),
    "conv1x1": KindCoefficients(const=2e-5, flop=5e-10, in_elem=1e-8),
})


class TwoConv(nn.Module):
    """image(3) → a: 3×3 conv (4) + BN → head: 1×1 conv (2), on 8×8."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.bn, self.head = nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.a(x))))


def _two_conv_with_three_alive() -> tuple[TwoConv, MorphNetRegularizer]:
    net = TwoConv()
    with torch.no_grad():
        net.bn.weight.copy_(torch.tensor([1.0, -1.0, 1.0, 0.0]))  # 3 of 4 channels alive
    return net, MorphNetRegularizer(net, torch.zeros(1, 3, 8, 8), resource="latency", device=DEVICE)


def test_cost_is_the_sum_of_hand_worked_layer_predictions() -> None:
    _, reg = _two_conv_with_three_alive()
    # a (3→3 alive, 8×8): FLOPs 2·64·9·3·3 = 10368, inputs 64·3 = 192, outputs 192, weights 9·3·3 = 81
    t_a = 1e-5 + 1e-9 * 10368 + 2e-8 * 192 + 3e-8 * 192 + 4e-8 * 81  # = 3.3208e-5
    # head (3→2, 1×1): FLOPs 2·64·3·2 = 768, inputs 192
    t_head = 2e-5 + 5e-10 * 768 + 1e-8 * 192  # = 2.2304e-5
    assert layer_costs(reg.graph, reg.alive_counts(), "latency", DEVICE) == pytest.approx({"a": t_a, "head": t_head})
    assert reg.cost() == pytest.approx(5.5512e-5)


def test_each_batch_is_priced_with_the_set_of_the_nearest_calibrated_batch() -> None:
    """Per-batch sets: batch 1 and 8 calibrated; 2 is nearer 1 on a log scale (0.69 vs 1.39), 3 nearer 8
    (1.10 vs 0.98); a kind a set lacks comes from ``kinds``."""
    at8 = {"conv3x3": KindCoefficients(const=7e-5)}  # conv1x1 not fitted at batch 8: the all-batch set's
    dev = CalibratedDevice("per-batch", DEVICE.kinds, batches={1: DEVICE.kinds, 8: at8})
    g = build_graph(TwoConv(), torch.zeros(1, 3, 8, 8))  # full width: a 3→4, head 4→2
    # batches 1 and 2 use DEVICE's set. a: FLOPs 2·64·9·3·4 = 13824 per example, inputs 192, outputs 256,
    # weights 108 (not per example); head: FLOPs 1024, inputs 256 per example
    def a(b: int) -> float:
        return 1e-5 + b * (1e-9 * 13824 + 2e-8 * 192 + 3e-8 * 256) + 4e-8 * 108  # b = 1: 3.9664e-5

    def head(b: int) -> float:
        return 2e-5 + b * (5e-10 * 1024 + 1e-8 * 256)  # b = 1: 2.3072e-5

    for batch in (1, 2):
        assert layer_costs(g, None, "latency", dev, batch) == pytest.approx({"a": a(batch), "head": head(batch)})
    for batch in (3, 8, 64):  # a: the batch-8 set (const only); head: the all-batch conv1x1
        assert layer_costs(g, None, "latency", dev, batch) == pytest.approx({"a": 7e-5, "head": head(batch)})
    assert dev.kinds_at(None) is dev.kinds and DEVICE.kinds_at(8) is DEVICE.kinds


def test_penalty_is_differentiable_with_the_hand_worked_coefficient() -> None:
    net, reg = _two_conv_with_three_alive()
    # ∂cost/∂n_a at n_a = 3: a's bilinear (2·64·9·1e-9 + 9·4e-8)·3 image channels + a's outputs 64·3e-8
    # + head's bilinear 2·64·5e-10 · 2 classes + head's inputs 64·1e-8
    coeff = (1.152e-6 + 3.6e-7) * 3 + 1.92e-6 + 6.4e-8 * 2 + 6.4e-7  # = 7.224e-6
    assert reg.channel_coefficients()[0].item() == pytest.approx(coeff)
    penalty = reg.penalty()
    assert penalty.item() == pytest.approx(coeff * 3)
    penalty.backward()
    assert net.bn.weight.grad is not None
    assert net.bn.weight.grad[:3].tolist() == pytest.approx([coeff, -coeff, coeff])


def test_concat_input_and_depthwise_kind() -> None:
    concat = KindCoefficients(const=7e-6, in_elem=1e-9)
    dev = CalibratedDevice("with-concat", {"conv3x3": KindCoefficients(const=1e-6), "conv1x1": KindCoefficients(),
                                           "concat": concat})
    g = build_graph(Concat(), torch.zeros(1, 3, 8, 8))
    costs = layer_costs(g, None, "latency", dev)
    # c (3×3 over the 9-channel concat): its own 1e-6 plus the concat's 7e-6 + 64·9·1e-9; d, head (1×1): concat only
    assert costs == pytest.approx({"a.0": 1e-6, "b.0": 1e-6, "c.0": 1e-6 + 7e-6 + 64 * 9 * 1e-9,
                                   "d.0": 7e-6 + 64 * 9 * 1e-9, "head": 7e-6 + 64 * 13 * 1e-9})
    dw = build_graph(Depthwise(), torch.zeros(1, 3, 8, 8))
    assert [layer_kind(lay) for lay in dw.layers] == ["conv1x1", "dwconv", "conv1x1", "conv1x1"]


def test_graph_features_times_coefficients_is_the_graph_cost() -> None:
    """The whole-model rows of a joint fit price a graph exactly as graph_cost does."""
    kinds = ("conv3x3", "conv1x1", "concat")
    dev = CalibratedDevice("all", {k: KindCoefficients(const=1e-5 * i, flop=1e-11 * i, in_elem=2e-10, out_elem=3e-10 * i,
                                                       weight=1e-9) for i, k in enumerate(kinds, 1)})
    g = build_graph(Concat(), torch.zeros(1, 3, 8, 8))
    alive = {0: 2, 1: 5, 2: 3, 3: 1}
    feats = graph_features(g, alive, batch=4)
    assert feats["concat"]["const"] == 3 and feats["conv3x3"]["const"] == 3 and feats["conv1x1"]["const"] == 2
    assert feats["concat"]["in_elem"] == 4 * 64 * (7 + 7 + 4)  # c and d read a+b (2+5), head reads c+d (3+1)
    by_hand = sum(getattr(dev.kinds[k], n) * v for k, names in feats.items() for n, v in names.items())
    assert graph_cost(g, alive, "latency", dev, batch=4) == pytest.approx(by_hand, rel=1e-12)


def test_fallback_to_nearest_conv_kernel_and_unknown_kind() -> None:
    g = build_graph(Depthwise(), torch.zeros(1, 3, 8, 8))
    only_3x3 = CalibratedDevice("only-3x3", {"conv3x3": KindCoefficients(const=1.0)},
                                fallback={"dwconv": "conv3x3"})
    assert graph_cost(g, resource="latency", device=only_3x3) == pytest.approx(4.0)  # 1×1 → nearest: 3×3
    with pytest.raises(MorphError, match="no latency coefficients for layer kind 'dwconv'"):
        graph_cost(g, resource="latency", device=CalibratedDevice("x", {"conv3x3": KindCoefficients()}))
    with pytest.raises(MorphError, match="≥ 0"):
        KindCoefficients(flop=-1.0)


def test_register_by_name() -> None:
    dev = CalibratedDevice("test-calibrated-registered", DEVICE.kinds)
    add_device(dev)
    g = build_graph(TwoConv(), torch.zeros(1, 3, 8, 8))
    assert graph_cost(g, resource="latency", device="test-calibrated-registered") == graph_cost(
        g, resource="latency", device=dev)
