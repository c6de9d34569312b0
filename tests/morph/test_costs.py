"""Resource costs pinned by formula on traced stub nets (8×8 inputs, so H·W = 64)."""

from __future__ import annotations

import pytest
import torch
from nets import Chain, Concat, Depthwise, Residual, example
from torch import nn

from morph.errors import MorphError
from morph.groups import build_graph
from morph.models import blog_unet
from morph.resources import DEVICES, DeviceProfile, graph_cost, register_device

torch.set_num_threads(1)


def _ids(g):
    return {grp.name: grp.id for grp in g.groups}


def test_chain_full_and_alive() -> None:
    g = build_graph(Chain(), example())
    assert graph_cost(g, resource="flops") == 2 * 64 * (9 * 3 * 4 + 9 * 4 * 6 + 1 * 6 * 2)
    assert graph_cost(g, resource="params") == 9 * 3 * 4 + 9 * 4 * 6 + 6 * 2
    alive = {0: 2, 1: 3}
    assert graph_cost(g, alive, "flops") == 2 * 64 * (9 * 3 * 2 + 9 * 2 * 3 + 1 * 3 * 2)
    assert graph_cost(g, alive, "flops", batch=4) == 4 * 2 * 64 * (9 * 3 * 2 + 9 * 2 * 3 + 1 * 3 * 2)
    # exact params: weights + head bias (2) + BN affine (2 per alive channel)
    assert graph_cost(g, alive, "params_exact") == 9 * 3 * 2 + 9 * 2 * 3 + 3 * 2 + 2 + 2 * (2 + 3)


def test_concat_sums_branches() -> None:
    g = build_graph(Concat(), example())
    i = _ids(g)
    alive = {i["a.0"]: 1, i["b.0"]: 2, i["c.0"]: 3, i["d.0"]: 4}
    expected = 2 * 64 * (9 * 3 * 1 + 9 * 3 * 2 + 9 * (1 + 2) * 3 + 1 * (1 + 2) * 4 + 1 * (3 + 4) * 1)
    assert graph_cost(g, alive, "flops") == expected


def test_depthwise_is_linear() -> None:
    g = build_graph(Depthwise(), example())
    i = _ids(g)
    alive = {i["a.0"]: 5, i["b.0"]: 2}
    assert graph_cost(g, alive, "flops") == 2 * 64 * (3 * 5 + 9 * 5 + 5 * 2 + 2 * 1)
    assert graph_cost(g, alive, "params") == 3 * 5 + 9 * 5 + 5 * 2 + 2


def test_residual_one_count() -> None:
    g = build_graph(Residual(), example())
    i = _ids(g)
    alive = {i["stem.0"]: 3, i["c2.0"]: 2}
    assert graph_cost(g, alive, "params") == 9 * 3 * 3 + 9 * 3 * 3 + 9 * 3 * 2 + 2 * 1


def test_latency_roofline() -> None:
    g = build_graph(Chain(), example())
    dev = DeviceProfile("test", peak_flops=1e6, mem_bandwidth=1e3)
    layers = [(3, 4, 9), (4, 6, 9), (6, 2, 1)]
    expected = sum(max(2 * 64 * k * i * o / 1e6, 4 * (64 * i + 64 * o + k * i * o) / 1e3) for i, o, k in layers)
    assert graph_cost(g, resource="latency", device=dev) == pytest.approx(expected)
    with pytest.raises(MorphError, match="device"):
        graph_cost(g, resource="latency")


def test_devices() -> None:
    assert DEVICES.get("V100").peak_flops == 125000e9 and DEVICES.get("K80").mem_bandwidth == 480e9
    assert {"A100", "H100", "H200", "cpu2", "TPUv2", "P100"} <= set(DEVICES.names())
    prof = register_device("test-npu", 1e12, 1e11)
    assert DEVICES.get("test-npu") is prof
    with pytest.raises(MorphError, match="did you mean"):
        DEVICES.get("V10")


def test_blog_unet_params_and_tconv_flops() -> None:
    model = blog_unet(16)
    g = build_graph(model, torch.randn(1, 3, 64, 64))
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert graph_cost(g, resource="params") == weights  # the 1×1 head counts, with fixed outputs
    assert graph_cost(g, resource="params_exact") == sum(p.numel() for p in model.parameters())
    up = next(l for l in g.layers if l.name == "ups.0")
    assert (up.in_hw, up.out_hw) == ((4, 4), (8, 8))
    alive = {grp.id: 0 for grp in g.groups if grp.name not in ("enc4.1", "up3")}
    flops = graph_cost(g, alive, "flops")
    # enc4.1 and up3 are the only live groups: ups.0 (tconv, input 4×4) plus the 9·256 of enc4.1's own inputs are 0
    assert flops == 2 * 4 * 4 * 2 * 2 * 256 * 128
