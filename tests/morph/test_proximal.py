"""Proximal L1 step: soft-thresholds by lr·λ·(∂G/∂strength) after the optimiser step."""

from __future__ import annotations

import pytest
import torch
from nets import Chain, example

from morph.proximal import ProximalStep
from morph.regularizer import MorphNetRegularizer

torch.set_num_threads(1)


def test_gamma_soft_threshold_by_hand() -> None:
    net = Chain()
    with torch.no_grad():
        net.a[1].weight.copy_(torch.tensor([0.5, 0.001, 0.2, -0.3]))
        net.b[1].weight.copy_(torch.tensor([0.1, 0.0, 0.4, 0.005, -0.2, 0.3]))
    reg = MorphNetRegularizer(net, example(), resource="flops", threshold=0.01)
    ka = 2 * 64 * 9 * 3 + 2 * 64 * 9 * 4
    lr, lam = 0.1, 2e-6  # tau ≈ 1.6e-3: the 0.001 channel reaches exactly 0
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ProximalStep(reg, lam)(opt)
    tau = lr * lam * ka
    expected = torch.tensor([0.5 - tau, max(0.001 - tau, 0.0), 0.2 - tau, -(0.3 - tau)])
    assert torch.allclose(net.a[1].weight, expected, atol=1e-7)
    assert net.a[1].weight[1] == 0


def test_keep_protects_the_strongest_share_of_each_group() -> None:
    """keep = 0.5: a's two strongest |γ| (0.5 and -0.3) of 4, b's three strongest (0.4, 0.3, -0.2) of 6 are left
    as they are; every other channel is soft-thresholded by the same τ as without the floor."""
    net = Chain()
    a0, b0 = torch.tensor([0.5, 0.001, 0.2, -0.3]), torch.tensor([0.1, 0.0, 0.4, 0.005, -0.2, 0.3])
    with torch.no_grad():
        net.a[1].weight.copy_(a0)
        net.b[1].weight.copy_(b0)
    reg = MorphNetRegularizer(net, example(), resource="flops", threshold=0.01)
    ka = 2 * 64 * 9 * 3 + 2 * 64 * 9 * 4
    lr, lam = 0.1, 2e-6
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ProximalStep(reg, lam, keep=0.5)(opt)
    tau = lr * lam * ka
    assert torch.allclose(net.a[1].weight, torch.tensor([0.5, 0.0, 0.2 - tau, -0.3]), atol=1e-7)
    b = net.b[1].weight
    assert b[2] == b0[2] and b[4] == b0[4] and b[5] == b0[5]  # protected
    assert b[0] < b0[0] and b[3] < b0[3]  # shrunk
    try:
        ProximalStep(reg, lam, keep=1.0)
    except ValueError as exc:
        assert "keep must be in [0, 1)" in str(exc)
    else:
        raise AssertionError("keep = 1 must be refused")


def test_group_lasso_shrinks_channel_norms() -> None:
    torch.manual_seed(0)
    net = Chain()
    reg = MorphNetRegularizer(net, example(), resource="params", source="group_lasso", threshold=0.0)
    w0 = net.a[0].weight.detach().clone()
    k = reg.channel_coefficients()[0].item()
    d = w0[0].numel()
    norms = w0.flatten(1).norm(dim=1)
    cut = float(norms.median()) * (1 + 1e-6)  # just above the median norm: that channel lands on exactly 0
    lam = cut * d**0.5 / k
    ProximalStep(reg, lam, lr=1.0).after_step()
    w = net.a[0].weight.detach()
    expected = (norms - cut).clamp_min(0)
    assert torch.allclose(w.flatten(1).norm(dim=1), expected, atol=1e-5)
    assert (w.flatten(1).norm(dim=1) == 0).sum() >= 2
    cos = torch.nn.functional.cosine_similarity(w.flatten(1), w0.flatten(1))
    assert torch.allclose(cos[expected > 0], torch.ones(()), atol=1e-5)  # direction kept


def test_each_parameter_uses_its_own_group_learning_rate() -> None:
    net = Chain()
    with torch.no_grad():
        net.a[1].weight.fill_(0.5)
        net.b[1].weight.fill_(0.5)
    reg = MorphNetRegularizer(net, example(), resource="flops", threshold=0.01)
    ka, kb = reg.channel_coefficients()[:2].tolist()
    lam = 1e-7
    opt = torch.optim.SGD([{"params": [net.a[1].weight], "lr": 0.2},
                           {"params": [p for n, p in net.named_parameters() if n != "a.1.weight"], "lr": 0.01}])
    ProximalStep(reg, lam)(opt)
    assert torch.allclose(net.a[1].weight, torch.full((4,), 0.5 - 0.2 * lam * ka))
    assert torch.allclose(net.b[1].weight, torch.full((6,), 0.5 - 0.01 * lam * kb))


def test_max_rate_caps_lambda_at_the_most_expensive_group() -> None:
    """max_rate = 0.5 with a λ far above it: λ becomes 0.5 / max k, so the most expensive group (a, k_a = 8064)
    shrinks by exactly lr · 0.5 and b (k_b = 2·64·9·3 alive a + 2·64·2 head = 3712) by lr · 0.5 · k_b / k_a.
    A λ under the cap is left as it is."""
    net = Chain()
    with torch.no_grad():
        net.a[1].weight.copy_(torch.tensor([0.5, 0.001, 0.2, -0.3]))
        net.b[1].weight.copy_(torch.tensor([0.1, 0.0, 0.4, 0.005, -0.2, 0.3]))
    a0, b0 = net.a[1].weight.detach().clone(), net.b[1].weight.detach().clone()
    reg = MorphNetRegularizer(net, example(), resource="flops", threshold=0.01)
    ka, kb = 2 * 64 * 9 * 3 + 2 * 64 * 9 * 4, 2 * 64 * 9 * 3 + 2 * 64 * 2
    lr = 0.1
    step = ProximalStep(reg, 1.0, lr=lr, max_rate=0.5)
    step.after_step()
    assert step.applied == pytest.approx(0.5 / ka) and step.cap == pytest.approx(0.5 / ka)
    tau_a, tau_b = lr * 0.5, lr * 0.5 * kb / ka
    shrink = lambda w, tau: w.sign() * (w.abs() - tau).clamp_min(0)  # noqa: E731
    assert torch.allclose(net.a[1].weight, shrink(a0, tau_a), atol=1e-7)
    assert torch.allclose(net.b[1].weight, shrink(b0, tau_b), atol=1e-7)
    under = ProximalStep(reg, 1e-7, lr=lr, max_rate=0.5)
    under.after_step()
    assert under.applied == 1e-7
    with pytest.raises(ValueError, match="max_rate must be > 0"):
        ProximalStep(reg, 1.0, max_rate=0.0)
