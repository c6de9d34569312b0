"""FiGS logistic-sigmoid gates: morph-net's own tests ported (grouping, sampling rates, gating, costs on its
4-conv graph), the insert/remove transform, and the ``logistic_sigmoid`` source in the regularizer."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from morph.errors import MorphError
from morph.gates import (
    GateGroup, LogisticSigmoidGate, attach_gate, combine_alive, combine_probabilistic, gates, insert_gates,
    logistic_noise, remove_gates, sample_mask,
)
from morph.groups import build_graph
from morph.models import blog_unet, smp_model
from morph.regularizer import MorphNetRegularizer
from morph.resources import layer_costs

torch.set_num_threads(1)


# --- morph_net/framework/probabilistic_grouping_regularizer_test.py ---------------------------------------

def test_probabilistic_grouping() -> None:
    regs = [[0.1, 0.3, 0.6, 0.2], [0.2, 0.4, 0.5, 0.1], [0.3, 0.2, 0.0, 0.25]]
    alive = [[False, True, True, False], [False, True, False, True], [False, True, False, True]]
    got = combine_probabilistic([torch.tensor(r) for r in regs])
    assert torch.allclose(got, torch.tensor([0.496, 0.664, 0.8, 0.46]), atol=1e-5)
    assert combine_alive([torch.tensor(a) for a in alive]).tolist() == [False, True, True, True]


def test_gate_group_combines_probabilities() -> None:
    members = []
    for p in ([0.1, 0.3, 0.6, 0.2], [0.2, 0.4, 0.5, 0.1], [0.3, 0.2, 0.0, 0.25]):
        g = LogisticSigmoidGate(4, regularize_on_mask=False, mask_as_alive_vector=False)
        with torch.no_grad():
            g.logits.copy_(torch.logit(torch.tensor(p)))
        members.append((f"g{len(members)}", g))
    group = GateGroup("logistic_sigmoid", tuple(members))
    assert torch.allclose(group.regularization_vector(), torch.tensor([0.496, 0.664, 0.8, 0.46]), atol=1e-5)
    assert group.alive_vector().tolist() == [True, True, True, True]  # ≥ 0.1 in some member (p = 0 and 0.1 too)


# --- morph_net/probabilistic_gating/activation_gating_test.py ---------------------------------------------

@pytest.mark.parametrize(("logit", "expected_on", "straight_through"), [
    (5.5, 0.996, True), (0.5, 0.6, True), (-5.5, 0.004, True),
    (5.5, 0.996, False), (0.5, 0.6, False), (-5.5, 0.004, False), (-1000.0, 0.0, False), (1000.0, 1.0, False),
])
def test_sampled_mask(logit: float, expected_on: float, straight_through: bool) -> None:
    logits = torch.full((1000,), logit)
    noise = logistic_noise(1000, generator=torch.Generator().manual_seed(0))
    mask = sample_mask(logits, noise, temperature=0.01, straight_through=straight_through)
    assert mask.mean().item() == pytest.approx(expected_on, abs=0.07)


def test_logistic_noise_is_logistic() -> None:
    u = logistic_noise(200_000, generator=torch.Generator().manual_seed(1))
    assert u.mean().item() == pytest.approx(0.0, abs=0.02)
    assert u.var().item() == pytest.approx(torch.pi**2 / 3, rel=0.02)  # Var Logistic(0, 1) = π²/3


def test_no_trainable_gate_passes_everything() -> None:
    x = torch.ones(1, 4, 17, 19)
    gate = LogisticSigmoidGate(4, log_odds_init=1000.0).eval()
    assert torch.equal(gate(x), x)


def test_inputs_outputs() -> None:
    gate = LogisticSigmoidGate(4)
    gate(torch.ones(1, 4, 17, 19))
    assert gate.logits.shape == (4,) and gate.mask().shape == (4,)
    assert torch.allclose(gate.logits, torch.full((4,), 2.5)) and gate.temperature == 1e-3


@pytest.mark.parametrize("straight_through", [True, False])
def test_gated_batch_norm(straight_through: bool) -> None:
    x = torch.eye(16).reshape(1, 1, 16, 16).repeat(1, 3, 1, 1)
    bn, gated = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
    attach_gate(gated, 3, log_odds_init=100, straight_through=straight_through)
    assert torch.allclose(bn(x), gated(x))


# --- morph_net/network_regularizers/logistic_sigmoid_regularizers_test.py ---------------------------------

LOGIT_ON, LOGIT_OFF = 10.0, -10.0


class FourConv(nn.Module):
    """morph-net's test graph on a 17×19 image: conv1 (13, 7×5) and conv2 (23, 1×1) → concat →
    conv3 (29, 3×3 stride 2) and conv4 (31, 1×1), a gate after every conv. Here each output conv feeds a 1×1
    head, because a layer nothing consumes is a fixed output (morph-net's regularizer takes conv3/conv4 as its
    output boundary, gates included)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 13, (7, 5), padding=(3, 2))
        self.conv2 = nn.Conv2d(3, 23, 1)
        self.conv3 = nn.Conv2d(36, 29, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(36, 31, 1)
        self.head3, self.head4 = nn.Conv2d(29, 1, 1), nn.Conv2d(31, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.cat([self.conv1(x), self.conv2(x)], 1)
        return self.head3(self.conv3(y)), self.head4(self.conv4(y))


ON = {"conv1": 7, "conv2": 11, "conv3": 10, "conv4": 17}


@pytest.mark.parametrize(("resource", "coeff"), [
    # FLOPs: C = 2·H_out·W_out·k_h·k_w (conv3 at stride 2: 9×10); model size: C = k_h·k_w
    ("flops", {"conv1": 2 * 17 * 19 * 35, "conv2": 2 * 17 * 19, "conv3": 2 * 9 * 10 * 9, "conv4": 2 * 17 * 19}),
    ("params", {"conv1": 35, "conv2": 1, "conv3": 9, "conv4": 1}),
])
def test_costs_on_the_four_conv_graph(resource: str, coeff: dict[str, int]) -> None:
    net, x = FourConv(), torch.zeros(1, 3, 17, 19)
    reg = MorphNetRegularizer(net, x, resource=resource, source="logistic_sigmoid", threshold=0.1)
    assert set(gates(net)) == set(ON)  # no norms: a gate on each conv's output
    for name, on in ON.items():
        width = getattr(net, name).out_channels
        with torch.no_grad():
            gates(net)[name].logits.copy_(torch.tensor([LOGIT_ON] * on + [LOGIT_OFF] * (width - on)))
    torch.manual_seed(0)
    net.train()(x)  # samples the masks, as morph-net's is_training=True graph
    alive = reg.alive_counts()
    assert {reg.graph.groups[i].name: n for i, n in alive.items()} == ON
    costs = layer_costs(reg.graph, alive, resource)
    assert costs["conv1"] == coeff["conv1"] * 7 * 3  # 7 on channels, 3 image inputs
    assert costs["conv2"] == coeff["conv2"] * 11 * 3
    assert costs["conv3"] == coeff["conv3"] * 10 * 18  # 10 on channels, 7 + 11 inputs from conv1 and conv2
    assert costs["conv4"] == coeff["conv4"] * 17 * 18
    # the penalty: the masks are 0/1 here, so reg = C·(n_in·Σr_out + n_out·Σr_in) with Σr = alive counts
    c = coeff
    head = {"flops": 2 * 9 * 10, "params": 1}[resource], {"flops": 2 * 17 * 19, "params": 1}[resource]
    expected = (c["conv1"] * 3 * 7 + c["conv2"] * 3 * 11 + c["conv3"] * 2 * 10 * 18 + c["conv4"] * 2 * 17 * 18
                + head[0] * 10 + head[1] * 17)
    assert reg.penalty().item() == pytest.approx(expected, rel=1e-6)


def test_gate_logits_are_the_sources_scale_params() -> None:
    """``strength_lr`` gives a source's own parameters a rate: for gates those are the logits, and nothing else."""
    net, x = FourConv(), torch.zeros(1, 3, 17, 19)
    reg = MorphNetRegularizer(net, x, resource="params", source="logistic_sigmoid", threshold=0.1)
    scale = {id(p) for src in reg.sources for p in src.scale_params}
    assert scale == {id(g.logits) for g in gates(net).values()}


# --- the transform -----------------------------------------------------------------------------------------

def _randomise(model: nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for g in gates(model).values():
            g.logits.copy_(torch.randn(g.logits.shape, generator=gen) * 3)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(generator=gen)
                m.running_var.uniform_(0.5, 2, generator=gen)


def test_gates_after_norms_or_on_transpose_convs() -> None:
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    graph = build_graph(model, x)
    inserted = insert_gates(model, graph=graph)
    assert len(inserted) == len(graph.groups) == 22
    assert inserted["encoder.0.0.2"].logits.numel() == 8  # after enc0.0's BatchNorm (ReLU then BN)
    assert inserted["ups.0"].logits.numel() == 64  # the transpose conv's group has no norm
    assert insert_gates(model, x) == inserted  # idempotent: existing gates are reused
    traced = build_graph(model, x)  # tracing sees through the gates
    assert [(g.name, g.width, g.producers, g.norms) for g in traced.groups] == \
        [(g.name, g.width, g.producers, g.norms) for g in graph.groups]
    assert [lay.in_groups for lay in traced.layers] == [lay.in_groups for lay in graph.layers]


@pytest.mark.parametrize("make", [lambda: blog_unet(8), lambda: smp_model("unet", "resnet18")],
                         ids=["blog_unet", "smp_unet_resnet18"])
def test_remove_folds_the_inference_mask(make) -> None:  # type: ignore[no-untyped-def]
    model, x = make(), torch.randn(2, 3, 64, 64)
    keys = set(model.state_dict())
    insert_gates(model, x)
    _randomise(model)
    model.eval()
    gated = model(x)
    assert not torch.allclose(gated, remove_gates(copy.deepcopy(model), fold=False)(x), atol=1e-4)
    copied = copy.deepcopy(model)  # the hook survives a deep copy
    assert torch.allclose(copied(x), gated)
    remove_gates(model)
    assert not gates(model) and set(model.state_dict()) == keys
    assert not any(m._forward_hooks for m in model.modules())
    assert torch.allclose(model(x), gated, atol=1e-5)


def test_dead_channels_output_zero_and_fp32_mask() -> None:
    gate = LogisticSigmoidGate(3)
    with torch.no_grad():
        gate.logits.copy_(torch.tensor([-30.0, 30.0, -30.0]))
    x = torch.randn(2, 3, 4, 4, dtype=torch.bfloat16)
    y = gate.train()(x)
    assert y.dtype == torch.bfloat16 and gate.mask().dtype == torch.float32
    assert torch.equal(y[:, 0], torch.zeros_like(y[:, 0])) and torch.equal(y[:, 1], x[:, 1])
    assert gate.alive_vector().tolist() == [False, True, False]


def test_alive_is_inclusive_and_keep_first() -> None:
    gate = LogisticSigmoidGate(2, alive_threshold=1.0, keep_first_channel_alive=True).eval()
    with torch.no_grad():
        gate.logits.copy_(torch.tensor([-1.0, 200.0]))  # inference masks 0 and exactly 1.0
    assert gate.alive_vector().tolist() == [False, True]  # 1.0 ≥ 1.0; channel 0 is not counted alive
    x = torch.ones(1, 2, 1, 1)
    assert gate(x).flatten().tolist() == [1.0, 1.0]  # but it is kept on in the forward pass
    with pytest.raises(MorphError, match="temperature"):
        LogisticSigmoidGate(2, temperature=-1.0)
    with pytest.raises(MorphError, match="fold"):
        bn = nn.BatchNorm2d(2, affine=False)
        attach_gate(bn, 2)
        remove_gates(bn)


def test_source_in_the_regularizer() -> None:
    """With ``regularize_on_mask=False`` the strength is p = σ(l): ∂G/∂l_c = coefficient_g · p_c(1 − p_c)."""
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    insert_gates(model, x, regularize_on_mask=False)
    _randomise(model)
    reg = MorphNetRegularizer(model, x, resource="flops", source="logistic_sigmoid", threshold=0.1)
    assert {info.source for info in reg.groups.values()} == {"logistic_sigmoid"}
    assert len(gates(model)) == 22  # the source reused the inserted gates
    reg.penalty().backward()
    coeff = reg.channel_coefficients()
    for group, src in zip(reg.graph.groups, reg.sources):
        ((_, gate),) = src.gates.gates
        p = torch.sigmoid(gate.logits.detach())
        assert torch.allclose(gate.logits.grad, (coeff[group.id] * p * (1 - p)).float(), rtol=1e-4)
    model.eval()
    alive = {g.name: int(src.alive().sum()) for g, src in zip(reg.graph.groups, reg.sources)}
    assert alive == {g.name: int((gates(model)[s].logits > 0).sum()) for g, s in
                     zip(reg.graph.groups, [src.gates.gates[0][0] for src in reg.sources])}
    with pytest.raises(MorphError, match="proximal"):
        reg.sources[0].prox(reg.sources[0].members[0], 0.1, None)


def test_expected_source_regularizes_p() -> None:
    """``logistic_sigmoid_expected`` inserts its gates on p = σ(l) (morph-net's ``regularize_on_mask=False``): the
    penalty is deterministic in training mode and its gradient is the test above's; on the sampled mask at
    τ = 1e-3 the gradient is zero for nearly every channel; gates already on the mask are refused."""
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    reg = MorphNetRegularizer(model, x, resource="flops", source="logistic_sigmoid_expected", threshold=0.1)
    assert all(not g.regularize_on_mask for g in gates(model).values())
    _randomise(model)
    model.train()
    first, second = reg.penalty(), reg.penalty()
    assert first.item() == second.item()
    first.backward()
    coeff = reg.channel_coefficients()
    for group, src in zip(reg.graph.groups, reg.sources):
        ((_, gate),) = src.gates.gates
        p = torch.sigmoid(gate.logits.detach())
        assert torch.allclose(gate.logits.grad, (coeff[group.id] * p * (1 - p)).float(), rtol=1e-4)

    on_mask, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    mask_reg = MorphNetRegularizer(on_mask, x, resource="flops", source="logistic_sigmoid", threshold=0.1)
    on_mask.train()
    for gate in gates(on_mask).values():
        gate.logits.data.fill_(2.5)
    mask_reg.penalty().backward()
    grads = torch.cat([g.logits.grad.flatten() for g in gates(on_mask).values()])
    assert (grads.abs() < 1e-6).float().mean() > 0.9  # why the mask source barely prunes at τ = 1e-3
    with pytest.raises(MorphError, match="regularize_on_mask"):
        MorphNetRegularizer(on_mask, x, resource="flops", source="logistic_sigmoid_expected", threshold=0.1)
