"""Every entry of every morph registry runs end to end on a tiny net: regularize, step, shrink, search a budget,
rebuild and run the rebuilt model. A newly registered source, resource, device or layer rule is covered here
without editing this file (a layer rule needs a module in :class:`AllKinds`, which the test asks for)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from morph import (
    DEVICES, LAYERS, RESOURCES, SOURCES, MorphNetRegularizer, ProximalStep, build_graph, derive_widths,
    graph_cost_fn, rebuild, width_multiplier_search,
)
from morph.errors import MorphError
from morph.gates import LogisticSigmoidGate
from morph.resources import graph_cost

torch.set_num_threads(1)


class AllKinds(nn.Module):
    """image(3) → conv+BN (6) → transpose conv (5) → conv+BN (4) → flatten → linear (7) → linear (2)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6))
        self.up = nn.ConvTranspose2d(6, 5, 2, stride=2)
        self.b = nn.Sequential(nn.Conv2d(5, 4, 3, stride=4, padding=1, bias=False), nn.BatchNorm2d(4))
        self.fc, self.head = nn.Linear(4 * 4 * 4, 7), nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.b(torch.relu(self.up(torch.relu(self.a(x))))))
        return self.head(torch.relu(self.fc(y.flatten(1))))


X = torch.randn(2, 3, 8, 8)


def _device(resource: str) -> str | None:
    return "cpu2" if RESOURCES.get(resource).needs_device else None


def test_the_tiny_net_has_every_registered_layer_kind() -> None:
    graph = build_graph(AllKinds(), X)
    assert {lay.kind for lay in graph.layers} == set(LAYERS), "add a module of the new layer kind to AllKinds"


@pytest.mark.parametrize("source", SOURCES.names())
@pytest.mark.parametrize("resource", RESOURCES.names())
def test_every_source_and_resource_end_to_end(source: str, resource: str) -> None:
    torch.manual_seed(0)
    model = AllKinds()
    reg = MorphNetRegularizer(model, X, resource=resource, source=source, threshold=1e-3, device=_device(resource))
    seed_cost = reg.cost()
    assert seed_cost > 0 and seed_cost == pytest.approx(graph_cost(reg.graph, {}, resource, _device(resource)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    (model(X).pow(2).mean() + reg.penalty() / seed_cost).backward()
    assert all(p.grad is not None for src in reg.sources for m in src.members for p in [m.param])
    opt.step()
    before = {n: s.clone() for n, s in reg.strengths().items()}
    if all(src.proximal for src in reg.sources):
        ProximalStep(reg, strength=10.0 / seed_cost, lr=1.0).after_step(opt)
        after = reg.strengths()
        assert all((after[n] <= before[n] + 1e-6).all() for n in before)  # a prox step only shrinks
        assert any((after[n] < before[n]).any() for n in before)
    else:  # it learns through the penalty's gradient: a proximal step is refused in one line
        with pytest.raises(MorphError, match="no proximal step"):
            ProximalStep(reg, strength=1.0, lr=1.0)
    alive = {n: max(1, w) for n, w in reg.alive_widths().items() if n in reg.groups}
    widths = {n: g.width for n, g in reg.groups.items()}
    shrunk = derive_widths(alive, widths, min_fraction=0.5)
    cost_fn = graph_cost_fn(reg.graph, resource, device=_device(resource))
    found = width_multiplier_search(shrunk, 0.8 * cost_fn(widths), cost_fn)
    assert found.cost <= 0.8 * cost_fn(widths)
    small = rebuild(model, found.widths, X)
    assert small(X).shape == (2, 2)
    assert not any(isinstance(m, LogisticSigmoidGate) for m in small.modules())  # a rebuilt model has no gates
    # the rebuilt model costs what the search predicted
    assert graph_cost(build_graph(small, X), {}, resource, _device(resource)) == pytest.approx(found.cost)


@pytest.mark.parametrize("device", DEVICES.names())
def test_every_device_profile_prices_a_latency(device: str) -> None:
    graph = build_graph(AllKinds(), X)
    full, half = graph_cost(graph, {}, "latency", device), graph_cost(graph, {0: 3}, "latency", device)
    assert 0 < half < full


def test_every_layer_rule_resizes_its_modules() -> None:
    model = AllKinds()
    graph = build_graph(model, X)
    new = {g.name: max(1, g.width - 1) for g in graph.groups}
    small = rebuild(model, new, graph=graph)
    for lay in graph.layers:
        module = small.get_submodule(lay.name)
        out = lay.out_channels if lay.out_group is None else new[graph.groups[lay.out_group].name]
        assert module.weight.shape[lay.rule.out_dim] == out, lay.name
    assert small(X).shape == (2, 2)


def test_morph_rebuild_stays_the_function_whatever_was_imported_first() -> None:
    import subprocess
    import sys

    code = ("from morph.rebuild import group_id_widths\nimport morph\nfrom morph import rebuild\n"
            "import morph.rebuild\nprint(callable(rebuild) and morph.rebuild is rebuild)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "True"
