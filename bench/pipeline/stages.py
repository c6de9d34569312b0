"""What stages of every method share: training at given widths, the stage record's fields, λ, histograms, the
budget's cost function and the search that meets it.

The stages themselves live with their methods (:mod:`bench.methods`); each returns an
:class:`~bench.methods.products.Outcome`: the new product and the fields of its result record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from bench.calibrate.profile import resolve_device
from bench.errors import BenchError
from bench.methods import StageSettings
from bench.methods.products import Outcome, Product
from bench.pipeline.context import CaseContext
from bench.train import TrainResult, cpu_state, train
from morph import (
    RESOURCES, MorphNetRegularizer, apply_ties, graph_cost_fn, symmetry_ties, width_floor, width_multiplier_search,
)
from morph.resources import Device
from morph.widths import round_to_divisor

HISTOGRAM_BINS = 40


def train_fields(result: TrainResult) -> dict[str, Any]:
    """A training's record fields: status, metrics per split, per-epoch history, time and throughput."""
    history: dict[str, list[float]] = {}
    for row in result.history:
        for key, value in row.items():
            history.setdefault(key, []).append(float(value))
    metrics = {"train": result.train_metrics, "val": result.val_metrics}
    if result.test_metrics is not None:
        metrics["test"] = result.test_metrics
    rates = history.get("images_per_s", [])
    return {
        "status": result.status, "error": result.message or None, "metrics": metrics, "history": history,
        "train_time_s": result.train_time_s, "throughput": sum(rates) / len(rates) if rates else None,
        "extra": {"best_epoch": result.best_epoch, "monitor": result.monitor, "steps": result.steps},
        "per_image": {split: counts for split, counts in result.per_image.items() if counts},
    }


def train_from_scratch(ctx: CaseContext, widths: Mapping[str, int], facts: Any = None,
                       notes: Mapping[str, Any] | None = None, remove: Sequence[str] = ()) -> Outcome:
    """Train a fresh model at ``widths`` (without the block convs in ``remove``); its product carries ``facts``
    and ``notes`` (also record extras)."""
    model = ctx.model_at(widths, remove=remove)
    result = train(model, ctx.splits, ctx.train_config())
    product = Product(dict(widths), None, facts, dict(notes or {}))
    fields = train_fields(result)
    fields["extra"].update(product.info)
    if not result.ok:
        return Outcome(None, fields)
    product.state = cpu_state(model)
    return Outcome(product, fields)


def ties(ctx: CaseContext, level: int, remove: Sequence[str] = ()) -> list[set[str]]:
    """The symmetry level's tie sets of the seed model (none at level 0), less the removed block convs."""
    sets = symmetry_ties(ctx.base_model, level) if level else []
    return [kept for tie in sets if (kept := set(tie) - set(remove))]


def histogram(values: torch.Tensor, of: str) -> dict[str, Any]:
    """Strengths on a log axis (bimodality is a log-scale picture); values ≤ 1e-6 fall in the first bin."""
    v = values.detach().cpu().double().abs().clamp_min(1e-6).log10()  # torch.histogram is CPU-only
    hi = max(float(v.max()), -5.0)
    edges = torch.linspace(-6.0, hi + 1e-9, HISTOGRAM_BINS + 1, dtype=torch.float64)
    counts = torch.histogram(v, bins=edges).hist
    return {"of": of, "scale": "log10", "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "n": int(values.numel())}


def regularized_model(ctx: CaseContext, parent: Product, warm_start: bool) -> nn.Module:
    """The model structure learning starts from: the parent's widths, and its weights when ``warm_start``."""
    model = ctx.model_at(parent.widths, remove=parent.removed)
    if warm_start and parent.state is not None:
        model.load_state_dict(parent.state)
    return model


def learn_config(ctx: CaseContext, m: StageSettings) -> Any:
    """``[train]`` with the structure-learning run's own epochs, optimizer and lr; keeps the last epoch."""
    overrides: dict[str, Any] = {"epochs": m.epochs, "keep": "last"}
    if m.optimizer is not None:
        overrides["optimizer"] = m.optimizer
    if m.lr is not None:
        overrides["lr"] = m.lr
    return ctx.train_config(**overrides)


#: The resource a budget in a regularizer's resource is counted in: a parameter budget counts every parameter
#: (what ``sum(p.numel())`` of the rebuilt model says), not only MorphNet's weights.
BUDGET_RESOURCE = {"params": "params_exact"}


def is_timed(m: StageSettings) -> bool:
    """Whether the resource is a latency (it needs a device profile, and a budget in it may be measured)."""
    return RESOURCES.get(m.resource).needs_device


def device_profile(m: StageSettings) -> Device | None:
    """The latency device (default ``cpu2``): a registered name, or a calibrated profile file (``*.json``, from
    ``bench calibrate``); None for the other resources."""
    if not is_timed(m):
        return None
    return resolve_device(m.device_profile or "cpu2")


def strength_lambda(strength: float, relative: bool, penalty: Callable[[], torch.Tensor]) -> float:
    """λ as given, or ``strength / G(θ₀)`` when the suite gives the penalty's starting size instead."""
    if not relative:
        return strength
    with torch.no_grad():
        start = float(penalty())
    if not start > 0:
        raise BenchError(f"morph.relative_strength: the penalty is {start} at the start; give an absolute strength")
    return strength / start


def param_groups(model: nn.Module, reg: MorphNetRegularizer, lr: float | None) -> list[dict[str, Any]] | None:
    """The sources' scale parameters (BN γ) in a group of their own at ``lr``; everything else at the default."""
    if lr is None:
        return None
    strengths = {id(p): p for src in reg.sources for p in src.scale_params}
    rest = [p for p in model.parameters() if id(p) not in strengths]
    return [{"params": rest}, {"params": list(strengths.values()), "lr": lr}]


def cost_fn(ctx: CaseContext, m: StageSettings, remove: Sequence[str] = ()) -> Callable[[Mapping[str, int]], float]:
    """What the budget is in: the graph's cost of the resource, or a latency measured under the case's
    timing conditions (``budget_by = "measurement"``), of the model without the block convs in ``remove``."""
    if is_timed(m) and m.budget_by == "measurement":
        conditions = ctx.timing(ctx.case.config.measure.batch_sizes[0])

        def timed(model: nn.Module) -> float:
            return conditions.measure(model, ctx.input_shape, ctx.device).median

        if m.budget_share is None:
            return lambda widths: timed(ctx.model_at(widths, remove=remove))
        seed = ctx.model_at(ctx.seed_widths)

        def relative(widths: Mapping[str, int]) -> float:
            # a share of the seed's latency, timed back to back with it: a shared machine whose speed drifts over
            # minutes (this VM's base U-Net: 12 to 19 ms within a minute) then moves both timings alike
            if widths == ctx.seed_widths and not remove:
                return 1.0
            return timed(ctx.model_at(widths, remove=remove)) / timed(seed)

        return relative
    return graph_cost_fn(ctx.graph_without(remove), BUDGET_RESOURCE.get(m.resource, m.resource),
                         device=device_profile(m))


def budget_of(ctx: CaseContext, m: StageSettings, cost: Callable[[Mapping[str, int]], float]) -> float:
    """``morph.budget``; ``morph.budget_share`` of the seed model's cost (with ``budget_by = "measurement"`` the
    cost is already a share of the seed's measured latency); else the seed model's own cost."""
    if m.budget is not None:
        return m.budget
    if m.budget_share is not None:
        relative = is_timed(m) and m.budget_by == "measurement"
        return m.budget_share if relative else m.budget_share * cost(ctx.seed_widths)
    return cost(ctx.seed_widths)


def multiplier_target(ctx: CaseContext, m: StageSettings, widths: Mapping[str, int],
                      remove: Sequence[str] = ()) -> dict[str, Any]:
    """Widths for an expand or uniform stage: ``widths`` scaled by one multiplier per tie set to the budget (the
    seed model's cost by default), or by ``expand_factor``; the other keys are record extras. ``remove``: block
    convs the model goes without (``widths`` has no key for them; the cost is the shorter model's)."""
    seed = ctx.seed_widths
    # the search breaks ties between equally good top-ups by the order of ``widths``: always the network's forward
    # order, whether the parent product was just computed or loaded from its checkpoint (sorted keys), so that a
    # rerun or a resumed run lands on the same widths (it did not: 3 of 22 widths moved by a channel)
    widths = {**{k: widths[k] for k in ctx.layer_order if k in widths}, **dict(sorted(widths.items()))}
    level_ties = ties(ctx, m.symmetry, remove)
    step = math.lcm(m.multiple, m.channel_divisor)  # the search rounds every width to multiples of ``step``
    multiple = step if step > 1 else None
    if m.expand_factor is not None:
        scaled = {k: round_to_divisor(max(m.min_width, int(w * m.expand_factor)), m.channel_divisor, low=m.min_width)
                  for k, w in widths.items()}
        return {"widths": apply_ties(scaled, level_ties), "multiplier": m.expand_factor, "budget": None}
    cost = cost_fn(ctx, m, remove)
    budget = budget_of(ctx, m, cost_fn(ctx, m))  # unset: the full seed model's cost, with or without a removal
    floors = {k: width_floor(seed.get(k, w), m.min_fraction, m.min_width) for k, w in widths.items()}
    found = width_multiplier_search(widths, budget, cost, level_ties, min_width=m.min_width, min_widths=floors,
                                    multiple=multiple)
    return {"widths": dict(found.widths), "multiplier": found.multiplier, "budget": budget, "cost": found.cost,
            "budget_by": m.budget_by if is_timed(m) else "model"}
