"""MorphNetRegularizer: penalty and its gradient against hand values, cost, widths, inspection, speed."""

from __future__ import annotations


import pytest
import torch
from nets import Chain, Depthwise, example

from morph.models import blog_unet
from morph.regularizer import MorphNetRegularizer
from morph.resources import DeviceProfile, Terms, graph_cost

torch.set_num_threads(1)
GA = [0.5, 0.001, 0.2, -0.3]  # chain's a.1 γ: 3 alive at threshold 0.01
GB = [0.1, 0.0, 0.4, 0.005, -0.2, 0.3]  # b.1 γ: 4 alive


def _chain() -> torch.nn.Module:
    net = Chain()
    with torch.no_grad():
        net.a[1].weight.copy_(torch.tensor(GA))
        net.b[1].weight.copy_(torch.tensor(GB))
    return net


def test_flops_penalty_and_gradient_by_hand() -> None:
    net = _chain()
    reg = MorphNetRegularizer(net, example(), resource="flops", threshold=0.01)
    ca, cb, ch = 2 * 64 * 9, 2 * 64 * 9, 2 * 64 * 1
    sa, sb = sum(map(abs, GA)), sum(map(abs, GB))
    # a: input fixed (3, no reg); b: bilinear; head: output fixed (2)
    expected = ca * (3 * sa) + cb * (3 * sb + 4 * sa) + ch * (2 * sb)
    pen = reg.penalty()
    assert pen.item() == pytest.approx(expected, rel=1e-6)
    pen.backward()
    ka, kb = ca * 3 + cb * 4, cb * 3 + ch * 2
    assert torch.allclose(net.a[1].weight.grad, ka * torch.tensor(GA).sign())
    assert torch.allclose(net.b[1].weight.grad, kb * torch.tensor(GB).sign())
    assert torch.allclose(reg.channel_coefficients().double(), torch.tensor([ka, kb], dtype=torch.float64))
    assert reg.cost() == 2 * 64 * (9 * 3 * 3 + 9 * 3 * 4 + 4 * 2)
    widths = reg.alive_widths()
    assert (widths["a.0"], widths["b.0"], widths["head"]) == (3, 4, 2)


def test_depthwise_term() -> None:
    net = Depthwise()
    reg = MorphNetRegularizer(net, example(), resource="params", threshold=0.01)
    s = net.a[1].weight.abs().sum().item() + 0.0
    sb = net.b[1].weight.abs().sum().item()
    # a: 1·(3·s); dw: 9·(s + s); b: 1·(8·sb + 4·s); head: 1·(1·sb)
    assert reg.penalty().item() == pytest.approx(3 * s + 18 * s + 8 * sb + 4 * s + sb, rel=1e-6)
    assert reg.cost() == graph_cost(reg.graph, resource="params") == 3 * 8 + 9 * 8 + 8 * 4 + 4


def test_latency_picks_binding_side() -> None:
    net = _chain()
    dev = DeviceProfile("test", peak_flops=1e6, mem_bandwidth=1e3)
    reg = MorphNetRegularizer(net, example(), resource="latency", device=dev, threshold=0.01)
    sa, sb = sum(map(abs, GA)), sum(map(abs, GB))
    total = 0.0
    for lay, (n_in, n_out, r_in, r_out) in zip(reg.graph.layers, [(3, 3, 0, sa), (3, 4, sa, sb), (4, 2, sb, 0)]):
        sides: list[Terms] = list(reg.resource.sides(lay, 1, dev))
        best = max(sides, key=lambda t: t.cost(n_in, n_out))
        total += best.reg(n_in, n_out, r_in, r_out)
    assert reg.penalty().item() == pytest.approx(total, rel=1e-5)


def test_unet_groups_and_sources() -> None:
    model = blog_unet(8)
    reg = MorphNetRegularizer(model, torch.randn(1, 3, 32, 32), source="gamma")
    info = reg.groups
    assert info["up0"].source == "group_lasso" and info["enc0.0"].source == "gamma"
    assert info["enc0.0"].norms == ("encoder.0.0.2",) and info["enc0.0"].width == 8
    s = reg.strengths()
    assert s["enc1.0"].shape == (16,) and not s["enc1.0"].requires_grad
    assert set(reg.alive_widths()) >= set(model.widths) | {"head"}
