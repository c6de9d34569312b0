"""Structured-pruning baselines: prune a model once to a cost budget with Torch-Pruning (wave2-facts §3).

A *criterion* names a Torch-Pruning importance and the pruner whose sparse-training regularizer goes with it
(the DepGraph authors' ``reproduce/main.py::get_pruner`` mapping):

================  ===========================================  =============================================  ========
name              importance                                   pruner (``regularize()`` after ``backward``)   ranking
================  ===========================================  =============================================  ========
``l1_norm``       ``MagnitudeImportance(p=1)`` (group-aware)   ``BasePruner`` (no sparse training)            local
``slimming``      ``BNScaleImportance()``                      ``BNScalePruner``: γ-L1 (network slimming)     global
``random``        ``RandomImportance()``                       ``BasePruner`` (no sparse training)            global
``group_norm``    ``GroupMagnitudeImportance(p=2)``            ``GroupNormPruner``: importance-scaled decay   global
================  ===========================================  =============================================  ========

*Ranking* is where channels compete. Global: across all layers at once (Torch-Pruning's ``global_pruning=True``),
so the sparse-training criteria move width to where their regularizer left it. Local: within each layer, every
layer losing the same share (``global_pruning=False``): Li et al.'s filter pruning ranks filters per layer, and it
is Torch-Pruning's first L1 recipe ("local pruning with L1 norm"). Global L1 collapses layers on a U-Net: the
mean-normalized L1 of a layer with few weights per filter (the full-resolution convs: 27 at the input) spreads
more, so its lower tail falls under the global threshold at every one of the small steps while the deep layers'
tight scores never do. At init and after training alike, 50% of the parameters left enc0/dec0 with 1 or 2
channels of 16 (val Dice 0.38 against random pruning's 0.75 in the methods suite).

The budget is reached as the authors reach a MACs target (``progressive_pruning``): ``pruning_ratio=1.0``,
``iterative_steps`` (400) small global steps, stopping when the cost is at or under the budget. Each step is
applied group by group with each cut's cost predicted first (one step of a small net, a late step that
catches up, or one GroupNorm group at high resolution can remove several percent of the cost): a cut that
would land more than ``tolerance`` under the budget is shortened to the fewest of its channels that reach the
budget, or skipped when its channels cannot be split (GroupNorm blocks). The cost function is the harness's
own: a function of the widths per channel group name (``morph.search.graph_cost_fn``), read off the pruned
modules through the channel graph traced before pruning; it is called a few times per group and step, so it
should be cheap (a measured latency is not). Layers whose outputs are fixed (the head) are never pruned.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from morph._registry import Registry
from morph.errors import MorphError
from morph.graph import ChannelGraph
from morph.groups import build_graph
from morph.modes import eval_mode

CostFn = Callable[[Mapping[str, int]], float]


@dataclass(frozen=True)
class Criterion:
    """A pruning baseline: how channels are ranked, and which pruner (and sparse-training rule) goes with it.

    Attributes:
        name: the registered name.
        importance: builds the Torch-Pruning importance.
        pruner: the Torch-Pruning pruner class.
        sparse: whether ``regularize()`` does anything (a sparse-training phase is part of the method).
        options: keyword arguments for the pruner (e.g. its default ``reg``).
        global_ranking: channels compete across layers (True) or within each layer (False); see the module doc.
    """

    name: str
    importance: Callable[[], Any]
    pruner: type[tp.pruner.BasePruner]
    sparse: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    global_ranking: bool = True


class _GroupNormPruner(tp.pruner.GroupNormPruner):
    """``GroupNormPruner`` whose ``regularize`` also works on transposed convolutions.

    Torch-Pruning 1.6.1 indexes every conv weight as ``[out, in, …]``; a ``ConvTranspose2d`` stores
    ``[in, out, …]``, so on a U-Net ``regularize`` raises ``IndexError`` (Torch-Pruning#279, reproduced on
    ``blog_unet``). This is the library's formula (``reg · w · α^((max−imp)/(max−imp_min))`` added to the
    gradient of every out/in weight slice and BN weight of a group) with the weight axis taken from the layer.
    """

    @torch.no_grad()
    def regularize(self, model: nn.Module, alpha: float = 2**4, bias: bool = False) -> None:
        for group in self._groups:
            imp = self.estimate_importance(group)
            if imp is None:
                continue
            imp = imp.sqrt()
            if torch.isnan(imp).any():
                continue
            scale = alpha ** ((imp.max() - imp) / (imp.max() - imp.min()))
            for item in group:
                _decay(item, scale, self.reg, bias)


def _decay(item: Any, scale: torch.Tensor, reg: float, bias: bool) -> None:
    """The library's per-member update, dispatched on the pruning function as it does (depthwise convs, whose
    handlers are their own, are skipped as there), with the weight axis taken from the layer."""
    layer, fn, idxs = item.dep.target.module, item.dep.handler, list(item.idxs)
    if getattr(layer, "weight", None) is None or layer.weight.grad is None:
        return
    transposed = getattr(layer, "transposed", False)
    if fn in (tp.prune_conv_out_channels, tp.prune_linear_out_channels):
        dims = [(layer.weight, 1 if transposed else 0)]
    elif fn in (tp.prune_conv_in_channels, tp.prune_linear_in_channels):
        if getattr(layer, "groups", 1) > 1:
            return  # grouped convs' inputs: the library's slicing there is not reproduced
        dims = [(layer.weight, 0 if transposed else 1)]
    elif fn == tp.prune_batchnorm_out_channels:
        dims = [(layer.weight, 0)]
    else:
        return
    if bias and fn not in (tp.prune_conv_in_channels, tp.prune_linear_in_channels) and layer.bias is not None:
        dims.append((layer.bias, 0))
    s = scale.index_select(0, torch.tensor(list(item.root_idxs), device=scale.device))
    for p, dim in dims:
        _add_decay(p, dim, idxs, s, reg)


def _add_decay(p: nn.Parameter, dim: int, idxs: list[int], s: torch.Tensor, reg: float) -> None:
    if p.grad is None:
        return
    index = torch.tensor(idxs, device=p.device)
    w = p.data.index_select(dim, index)
    shape = [1] * w.dim()
    shape[dim] = -1
    p.grad.index_add_(dim, index, reg * w * s.view(shape).to(w.dtype))


CRITERIA: Registry[Criterion] = Registry("pruning criterion")


def register_criterion(criterion: Criterion) -> Criterion:
    return CRITERIA.register(criterion.name)(criterion)


for _c in (
    Criterion("l1_norm", lambda: tp.importance.MagnitudeImportance(p=1), tp.pruner.BasePruner, global_ranking=False),
    Criterion("slimming", tp.importance.BNScaleImportance, tp.pruner.BNScalePruner, sparse=True,
              options={"reg": 1e-5}),
    Criterion("random", tp.importance.RandomImportance, tp.pruner.BasePruner),
    Criterion("group_norm", lambda: tp.importance.GroupMagnitudeImportance(p=2), _GroupNormPruner, sparse=True,
              options={"reg": 1e-4}),
):
    register_criterion(_c)


def criterion_names() -> list[str]:
    return CRITERIA.names()


@dataclass(frozen=True)
class PruneResult:
    """A model pruned to a budget.

    Attributes:
        model: the pruned model (its surviving weights kept; fine-tune it).
        widths: width per channel group name (the keys ``morph.rebuild`` and the cost functions take).
        layer_widths: output channels per layer name (fixed layers, e.g. the head, included).
        cost: ``cost_fn(widths)``.
        base_cost: the cost before pruning.
        budget: what was asked.
        steps: pruning steps taken (the last one possibly in part).
        iterative_steps: the schedule's step count.
    """

    model: nn.Module
    widths: dict[str, int]
    layer_widths: dict[str, int]
    cost: float
    base_cost: float
    budget: float
    steps: int
    iterative_steps: int


def _out_channels(m: nn.Module) -> int:
    return int(m.out_features if isinstance(m, nn.Linear) else m.out_channels)  # type: ignore[arg-type]


class Pruning:
    """One model, one criterion: sparse-train with :meth:`regularize`, then :meth:`prune_to` a budget.

    The pruner is built on ``model`` itself (Torch-Pruning edits it in place), so train the very object you
    pass, and rebuild the optimizer after pruning (pruning replaces parameters).

    Args:
        model: the trained network.
        example_input: a batch at the resolution the costs describe.
        criterion: a registered name (``criterion_names()``) or a Criterion.
        iterative_steps: steps of the linear schedule from ratio 0 to 1 (the authors' 400).
        fixed: more layer names whose outputs keep their width (the head always does).
        round_to: round pruned widths to a multiple (Torch-Pruning's ``round_to``).
        seed: seeds ``random``'s choice (the global RNG is left as it was).
        **options: override the pruner's options (e.g. ``reg=5e-4``).
    """

    def __init__(self, model: nn.Module, example_input: torch.Tensor, criterion: str | Criterion, *,
                 iterative_steps: int = 400, fixed: Iterable[str] = (), round_to: int | None = None,
                 seed: int = 0, **options: Any) -> None:
        if iterative_steps < 1:
            raise MorphError(f"iterative_steps must be ≥ 1, got {iterative_steps}")
        self.criterion = CRITERIA.get(criterion) if isinstance(criterion, str) else criterion
        self.model, self.example_input, self.seed = model, example_input, seed
        self.fixed, self.round_to, self.options = tuple(fixed), round_to, options
        self.graph: ChannelGraph = build_graph(model, example_input, self.fixed)
        self.pruner = self._make_pruner(iterative_steps)
        self._group_name = {id(self.graph.modules[p]): g.name for g in self.graph.groups for p in g.producers}

    def _make_pruner(self, steps: int) -> tp.pruner.BasePruner:
        kept = [self.model.get_submodule(lay.name) for lay in self.graph.layers
                if lay.out_group is None and not lay.depthwise]
        opts = {**self.criterion.options, **self.options}
        with torch.enable_grad(), eval_mode(self.model):  # tracing must not move BN running statistics
            return self.criterion.pruner(
                self.model, self.example_input, self.criterion.importance(),
                global_pruning=self.criterion.global_ranking,
                pruning_ratio=1.0, iterative_steps=steps, ignored_layers=kept, round_to=self.round_to, **opts)

    def regularize(self) -> None:
        """Add the criterion's sparse-training term to the gradients (after ``loss.backward()``, before
        ``optimizer.step()``; with AMP unscale first). A no-op for criteria without sparse training."""
        self.pruner.regularize(self.model)

    def widths(self) -> dict[str, int]:
        """Current width per channel group name."""
        return {g.name: _out_channels(self.graph.modules[g.producers[0]]) for g in self.graph.groups}

    def layer_widths(self) -> dict[str, int]:
        """Current output channels per layer name."""
        return {lay.name: _out_channels(self.graph.modules[lay.name]) for lay in self.graph.layers}

    def prune_to(self, budget: float, cost_fn: CostFn, tolerance: float = 0.02) -> PruneResult:
        """Prune ``self.model`` in place until ``cost_fn(widths) ≤ budget``, within ``tolerance`` of it.

        Raises:
            MorphError: the budget is not positive, or no sequence of steps lands in
                ``[(1 - tolerance) · budget, budget]`` (importances all tied, every layer at 1 channel, or only
                groups too coarse to cut finely, such as GroupNorm groups, are left).
        """
        if budget <= 0:
            raise MorphError(f"budget must be > 0, got {budget}")
        if not 0 <= tolerance < 1:
            raise MorphError(f"tolerance must be in [0, 1), got {tolerance}")
        floor = (1 - tolerance) * budget
        base = cost = cost_fn(self.widths())
        with torch.random.fork_rng(), torch.enable_grad():
            torch.manual_seed(self.seed)
            while cost > budget and self.pruner.current_step < self.pruner.iterative_steps:
                # Every cut is predicted before it is made: late steps of the linear schedule, and steps that
                # catch up on channels earlier steps could not take, can remove most of what is left at once.
                for group in self.pruner.step(interactive=True):
                    if (cost := self._cut(group, cost, budget, floor, cost_fn)) <= budget:
                        break
                cost = cost_fn(self.widths())
        if not floor <= cost <= budget:
            raise MorphError(f"{self.criterion.name}: cost {cost:.6g} after {self.pruner.current_step} of "
                             f"{self.pruner.iterative_steps} steps is not within {tolerance:.0%} under the budget "
                             f"{budget:.6g} (importances tied, layers at 1 channel, or only coarse groups left)")
        return PruneResult(self.model, self.widths(), self.layer_widths(), cost, base, budget,
                           self.pruner.current_step, self.pruner.iterative_steps)

    def _cut(self, group: Any, cost: float, budget: float, floor: float, cost_fn: CostFn) -> float:
        """Apply ``group`` if it leaves the cost above the budget or lands in ``[floor, budget]``; if it would
        overshoot, apply the shortest prefix of its channels that reaches the budget (groups whose channels
        come in GroupNorm/grouped-conv blocks cannot be split), else skip it. Returns the cost after."""
        new = cost_fn(self._after(group))
        if new >= floor:
            group.prune()
            return new
        root, fn, idxs = group[0].dep.target.module, group[0].dep.handler, list(group[0].idxs)
        if self.pruner._get_channel_groups(group) > 1 or len(idxs) < 2:
            return cost
        part = lambda k: self.pruner.DG.get_pruning_group(root, fn, idxs[:k])  # noqa: E731
        lo, hi = 1, len(idxs)  # the smallest k with cost ≤ budget lies in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if cost_fn(self._after(part(mid))) <= budget else (mid + 1, hi)
        sub = part(lo)
        new = cost_fn(self._after(sub))
        if floor <= new and self.pruner.DG.check_pruning_group(sub):
            sub.prune()
            return new
        return cost

    def _after(self, group: Any) -> dict[str, int]:
        """The widths per group name once ``group`` is pruned (it is not pruned here)."""
        now = self.widths()
        after = dict(now)
        for item in group:  # each producer of a channel group loses the same channels
            name = self._group_name.get(id(item.dep.target.module))
            if name is not None and self.pruner.DG.is_out_channel_pruning_fn(item.dep.handler):
                after[name] = now[name] - len({int(i) for i in item.idxs})
        return after


def prune_to_budget(model: nn.Module, example_input: torch.Tensor, criterion: str | Criterion, budget: float,
                    cost_fn: CostFn, *, tolerance: float = 0.02, **kwargs: Any) -> PruneResult:
    """Prune a copy of ``model`` (the original is untouched) to ``budget`` without sparse training.

    Args:
        cost_fn: cost of widths per channel group name, e.g. ``morph.search.graph_cost_fn(graph, "flops")``.
        **kwargs: for :class:`Pruning` (``iterative_steps``, ``fixed``, ``round_to``, ``seed``, pruner options).
    """
    return Pruning(copy.deepcopy(model), example_input, criterion, **kwargs).prune_to(budget, cost_fn, tolerance)
