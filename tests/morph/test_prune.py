"""Pruning baselines: each criterion lands at or under a params / FLOPs budget, within 2%, on the blog U-Net and
two smp models (costs checked with independent counters); the sparse-training regularizers, U-Net included."""

from __future__ import annotations

import pytest
import torch
import torch_pruning as tp
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from morph.errors import MorphError
from morph.groups import build_graph
from morph.models import blog_unet, smp_model
from morph.prune import CRITERIA, Criterion, Pruning, criterion_names, prune_to_budget
from morph import rebuild
from morph.search import graph_cost_fn

torch.set_num_threads(1)
CRITERIA_NAMES = ["l1_norm", "slimming", "random", "group_norm"]


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """BN γ spread as after training (at initialisation they are all 1, a tie no ranking can break)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 2 - 1)
    return model


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flops(model: nn.Module, x: torch.Tensor) -> int:
    """Conv/linear FLOPs (2 per multiply-add) from torch's own counter, independent of morph's cost model."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(x)
    return counter.get_total_flops()


MODELS = {
    "blog_unet": lambda: blog_unet(8),
    "smp_unet_resnet18": lambda: smp_model("unet", "resnet18"),
    "smp_fpn_mobilenet_v2": lambda: smp_model("fpn", "mobilenet_v2"),
}
CASES = [  # model, budget resource, budget as a share of the base cost, iterative steps
    ("blog_unet", "params_exact", 0.25, 100),
    ("blog_unet", "flops", 0.25, 100),
    ("smp_unet_resnet18", "params_exact", 0.5, 50),
    ("smp_fpn_mobilenet_v2", "flops", 0.5, 100),
]


def test_registered_criteria() -> None:
    assert set(CRITERIA_NAMES) <= set(criterion_names())
    imp = {n: CRITERIA.get(n).importance() for n in CRITERIA_NAMES}
    assert type(imp["l1_norm"]) is tp.importance.MagnitudeImportance and imp["l1_norm"].p == 1
    assert type(imp["group_norm"]) is tp.importance.GroupMagnitudeImportance and imp["group_norm"].p == 2
    assert isinstance(imp["slimming"], tp.importance.BNScaleImportance)
    assert isinstance(imp["random"], tp.importance.RandomImportance)
    assert issubclass(CRITERIA.get("slimming").pruner, tp.pruner.BNScalePruner)
    assert issubclass(CRITERIA.get("group_norm").pruner, tp.pruner.GroupNormPruner)
    assert {n for n in CRITERIA_NAMES if CRITERIA.get(n).sparse} == {"slimming", "group_norm"}


# slimming cannot reach FPN's FLOPs budget (test_slimming_leaves_norm_free_groups)
BUDGET_CASES = [(*case, c) for case in CASES for c in CRITERIA_NAMES
                if (case[0], c) != ("smp_fpn_mobilenet_v2", "slimming")]


@pytest.mark.parametrize(("model_name", "resource", "share", "steps", "criterion"), BUDGET_CASES)
def test_pruned_to_budget(model_name: str, resource: str, share: float, steps: int, criterion: str) -> None:
    model, x = trained_like(MODELS[model_name]()), torch.randn(1, 3, 64, 64)
    graph = build_graph(model, x)
    cost_fn = graph_cost_fn(graph, resource)
    base_params, base_flops = params(model), flops(model, x)
    base = base_params if resource == "params_exact" else base_flops
    assert cost_fn({g.name: g.width for g in graph.groups}) == base  # the budget's cost model is the counter's
    budget = share * base

    result = prune_to_budget(model, x, criterion, budget, cost_fn, iterative_steps=steps)

    measured = params(result.model) if resource == "params_exact" else flops(result.model, x)
    assert 0.98 * budget <= measured <= budget
    assert measured == pytest.approx(result.cost) and result.base_cost == base
    assert params(model) == base_params  # the original is untouched
    assert result.model.eval()(x).shape == model.eval()(x).shape  # runs; the head keeps its classes
    assert set(result.widths) == {g.name for g in graph.groups}
    assert any(result.widths[g.name] < g.width for g in graph.groups)
    head = [lay.name for lay in graph.layers if lay.out_group is None]
    assert all(result.layer_widths[n] == graph.modules[n].out_channels for n in head)
    rebuilt = rebuild(model, result.widths, x)  # the widths are enough to build the pruned architecture again
    assert params(rebuilt) == params(result.model)


def test_l1_norm_ranks_within_layers() -> None:
    """L1-norm pruning ranks filters per layer (Li et al.; Torch-Pruning's local L1 recipe): every group keeps
    about the same share. Ranked globally, the mean-normalized L1 emptied the blog U-Net's full-resolution layers
    (enc0/dec0 at 1-2 of 16 channels at 50% of the parameters) while the deep ones kept 70%."""
    assert not CRITERIA.get("l1_norm").global_ranking
    assert all(CRITERIA.get(n).global_ranking for n in ("slimming", "group_norm", "random"))
    torch.manual_seed(0)
    model, x = trained_like(blog_unet(16)), torch.randn(1, 3, 64, 64)
    graph = build_graph(model, x)
    cost_fn = graph_cost_fn(graph, "params_exact")
    result = prune_to_budget(model, x, "l1_norm", 0.5 * params(model), cost_fn, iterative_steps=100)
    kept = [result.widths[g.name] / g.width for g in graph.groups]
    # params fall as the square of the channel share, so each layer keeps ~1/√2 of its channels; one partial
    # last step and the rounding of 16-channel layers move a share by at most a few channels
    assert min(kept) >= 0.6 and max(kept) <= 0.8, sorted(kept)


def test_slimming_leaves_norm_free_groups() -> None:
    """FPN's lateral and GroupNorm groups have no BN γ, so slimming cannot cut the high-resolution decoder."""
    model, x = trained_like(smp_model("fpn", "mobilenet_v2")), torch.randn(1, 3, 64, 64)
    cost_fn = graph_cost_fn(build_graph(model, x), "flops")
    with pytest.raises(MorphError, match="slimming: cost .* not within 2% under the budget"):
        prune_to_budget(model, x, "slimming", 0.5 * flops(model, x), cost_fn, iterative_steps=20)


def _backward(model: nn.Module, x: torch.Tensor) -> None:
    model.train()
    model.zero_grad()
    model(x).square().mean().backward()


def test_slimming_regularize_is_gamma_l1() -> None:
    model, x = trained_like(blog_unet(8)), torch.randn(2, 3, 32, 32)
    pruning = Pruning(model, x[:1], "slimming", reg=1e-3)
    _backward(model, x)
    before = {n: m.weight.grad.clone() for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    pruning.regularize()
    for n, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.allclose(m.weight.grad - before[n], 1e-3 * m.weight.detach().sign())


def test_group_norm_regularize_on_unet() -> None:
    """Torch-Pruning#279: the library's GroupNormPruner.regularize indexes a ConvTranspose2d weight as
    [out, in] and fails on a U-Net; ours takes the axis from the layer."""
    model, x = trained_like(blog_unet(8)), torch.randn(2, 3, 32, 32)
    upstream = tp.pruner.GroupNormPruner(model, x[:1], tp.importance.GroupMagnitudeImportance(p=2),
                                         ignored_layers=[model.head])
    _backward(model, x)
    with pytest.raises(IndexError):
        upstream.regularize(model)

    pruning = Pruning(model, x[:1], "group_norm", reg=1e-3)
    _backward(model, x)
    for p in model.parameters():
        p.grad.zero_()  # so the gradients are the decay alone
    pruning.regularize()
    for n, p in model.named_parameters():
        if not n.endswith("weight"):
            assert not p.grad.any()  # bias=False: biases untouched
            continue
        # decay reg·w·s with s = α^(...) ∈ [1, 16] per side: out side only (first conv's image inputs are
        # fixed, BN), in side only (the head), or both (every other conv and transpose conv)
        ratio = p.grad / (1e-3 * p.detach())
        both = n.startswith(("encoder.", "decoder.", "ups.")) and not n.startswith("encoder.0.0.0") and p.dim() == 4
        lo, hi = (2.0, 32.0) if both else (1.0, 16.0)
        assert ratio.min() >= lo - 1e-3 and ratio.max() <= hi + 1e-3, n


def test_group_norm_regularize_matches_library_where_it_works() -> None:
    model = trained_like(smp_model("unet", "resnet18", decoder_channels=(32, 16, 8, 8, 4)))
    x = torch.randn(2, 3, 64, 64)
    ours = Pruning(model, x[:1], "group_norm", reg=1e-3)
    upstream = tp.pruner.GroupNormPruner(model, x[:1], tp.importance.GroupMagnitudeImportance(p=2), reg=1e-3,
                                         ignored_layers=[model.segmentation_head[0]])
    grads = []
    for reg in (ours, upstream):
        _backward(model, x)
        reg.regularize() if reg is ours else reg.regularize(model)
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for n in grads[0]:
        assert torch.allclose(grads[0][n], grads[1][n], rtol=1e-5, atol=1e-9), n


def test_sparse_training_then_pruning() -> None:
    """The harness's order: build the pruner on the trained model, train with ``regularize()``, prune."""
    model, x = trained_like(blog_unet(8)), torch.randn(4, 3, 32, 32)
    stats = [m.running_mean.clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    pruning = Pruning(model, x[:1], "slimming", iterative_steps=100, reg=1e-2)
    assert all(torch.equal(a, m.running_mean) for a, m in
               zip(stats, [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]))  # tracing left BN alone
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(3):
        _backward(model, x)
        pruning.regularize()
        opt.step()
    budget = 0.5 * params(model)
    result = pruning.prune_to(budget, graph_cost_fn(pruning.graph, "params_exact"))
    assert result.model is model and 0.98 * budget <= params(model) <= budget
    assert model.train()(x).shape == (4, 1, 32, 32)


def test_latency_budget() -> None:
    model, x = trained_like(blog_unet(8)), torch.randn(1, 3, 64, 64)
    cost_fn = graph_cost_fn(build_graph(model, x), "latency", device="V100")
    base = cost_fn({g.name: g.width for g in build_graph(model, x).groups})
    result = prune_to_budget(model, x, "l1_norm", 0.5 * base, cost_fn, iterative_steps=100)
    again = graph_cost_fn(build_graph(result.model, x), "latency", device="V100")  # traced afresh
    cost = again({g.name: g.width for g in build_graph(result.model, x).groups})
    assert 0.98 * result.budget <= cost <= result.budget


def test_random_is_seeded() -> None:
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    cost_fn = graph_cost_fn(build_graph(model, x), "params_exact")
    budget = 0.5 * params(model)
    runs = [prune_to_budget(model, x, "random", budget, cost_fn, iterative_steps=50, seed=s).widths for s in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_any_importance_as_a_criterion() -> None:
    model, x = trained_like(blog_unet(8)), torch.randn(1, 3, 32, 32)
    cost_fn = graph_cost_fn(build_graph(model, x), "params_exact")
    fpgm = Criterion("fpgm", lambda: tp.importance.FPGMImportance(p=2), tp.pruner.BasePruner)
    result = prune_to_budget(model, x, fpgm, 0.5 * params(model), cost_fn, iterative_steps=50)
    assert 0.98 * result.budget <= params(result.model) <= result.budget


def test_bad_input() -> None:
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    cost_fn = graph_cost_fn(build_graph(model, x), "params_exact")
    with pytest.raises(MorphError, match="did you mean 'l1_norm'"):
        prune_to_budget(model, x, "l1norm", 1e5, cost_fn)
    with pytest.raises(MorphError, match="budget must be > 0"):
        prune_to_budget(model, x, "l1_norm", 0, cost_fn)
    with pytest.raises(MorphError, match="iterative_steps"):
        prune_to_budget(model, x, "l1_norm", 1e5, cost_fn, iterative_steps=0)
