"""The work of each stage kind: train the seed, learn structure, shrink, expand, or scale uniformly.

Each function takes the case context, the stage and its parent's product and returns a :class:`Outcome`: the
new product (widths, weights, what later stages need to know) and the fields of its result record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.measure import measure_latency
from bench.pipeline.context import CaseContext
from bench.pipeline.plan import Stage
from bench.train import TrainHooks, TrainResult, train
from morph import (
    MorphNetRegularizer, ProximalStep, apply_ties, derive_widths, graph_cost_fn, symmetry_ties, width_floor,
    width_multiplier_search,
)
from morph import blog
from morph.schedule import StrengthController

HISTOGRAM_BINS = 40


@dataclass
class Product:
    """A stage's model: widths per channel group, its weights, and facts later stages read (JSON types)."""

    widths: dict[str, int]
    state: dict[str, torch.Tensor] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    product: Product | None
    fields: dict[str, Any]


def _train_fields(result: TrainResult) -> dict[str, Any]:
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
    }


def _train_from_scratch(ctx: CaseContext, widths: Mapping[str, int], info: dict[str, Any]) -> Outcome:
    model = ctx.model_at(widths)
    result = train(model, ctx.splits, ctx.train_config())
    fields = _train_fields(result)
    fields["extra"].update(info)
    return Outcome(Product(dict(widths), _cpu_state(model), info) if result.ok else None, fields)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu") for k, v in model.state_dict().items()}


def run_base(ctx: CaseContext, stage: Stage, parent: Product | None) -> Outcome:
    return _train_from_scratch(ctx, ctx.seed_widths, {})


def _ties(ctx: CaseContext) -> list[set[str]]:
    level = ctx.case.config.morph.symmetry
    return symmetry_ties(ctx.base_model, level) if level else []


def _histogram(values: torch.Tensor, of: str) -> dict[str, Any]:
    """Strengths on a log axis (bimodality is a log-scale picture); values ≤ 1e-6 fall in the first bin."""
    v = values.detach().cpu().double().abs().clamp_min(1e-6).log10()  # torch.histogram is CPU-only
    hi = max(float(v.max()), -5.0)
    edges = torch.linspace(-6.0, hi + 1e-9, HISTOGRAM_BINS + 1, dtype=torch.float64)
    counts = torch.histogram(v, bins=edges).hist
    return {"of": of, "scale": "log10", "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "n": int(values.numel())}


def _regularized_model(ctx: CaseContext, parent: Product) -> nn.Module:
    model = ctx.model_at(parent.widths)
    if ctx.case.config.morph.warm_start and parent.state is not None:
        model.load_state_dict(parent.state)
    return model


def _learn_config(ctx: CaseContext) -> Any:
    m = ctx.case.config.morph
    overrides: dict[str, Any] = {"epochs": m.epochs, "keep": "last"}
    if m.optimizer is not None:
        overrides["optimizer"] = m.optimizer
    if m.lr is not None:
        overrides["lr"] = m.lr
    return ctx.train_config(**overrides)


def _device_profile(ctx: CaseContext) -> str | None:
    m = ctx.case.config.morph
    if m.resource != "latency":
        return None
    return m.device_profile or "cpu2"


def run_learn(ctx: CaseContext, stage: Stage, parent: Product | None) -> Outcome:
    assert parent is not None
    if ctx.case.config.morph.method == "blog":
        return _learn_blog(ctx, stage, parent)
    m = ctx.case.config.morph
    model = _regularized_model(ctx, parent)
    reg = MorphNetRegularizer(model, ctx.example, resource=m.resource, source=m.source, threshold=m.threshold,
                              device=_device_profile(ctx))
    config = _learn_config(ctx)
    lam = _lambda(m.strength, m.relative_strength, lambda: reg.penalty())
    state = {"lam": lam}  # λ, which a target_cost controller changes after every step
    seed_cost = reg.cost()
    control = None
    if m.target_cost is not None:
        steps = config.epochs * math.ceil(len(ctx.splits.train) / config.batch_size)
        control = StrengthController(m.target_cost, steps)

    def epoch_end(epoch: int) -> dict[str, float]:
        alive = reg.alive_counts()
        return {"reg_cost": reg.cost(), "reg_penalty": float(reg.penalty().detach()), "lambda": state["lam"],
                "alive_fraction": sum(alive.values()) / sum(g.width for g in reg.graph.groups)}

    prox = ProximalStep(reg, lam) if m.proximal else None

    def after_step(optimizer: Any) -> None:
        if prox is not None:
            prox.strength = state["lam"]
            prox.after_step(optimizer)
        if control is not None:
            state["lam"] = control.update(state["lam"], reg.cost() / seed_cost if seed_cost > 0 else math.nan)

    groups = _param_groups(model, reg, m.strength_lr)
    hooks = TrainHooks(extra_loss=None if m.proximal else (lambda: state["lam"] * reg.penalty()),
                       after_step=after_step, on_epoch_end=epoch_end, param_groups=groups)
    result = train(model, ctx.splits, config, hooks=hooks)
    fields = _train_fields(result)
    names = {g.id: g.name for g in reg.graph.groups}
    alive = {names[i]: int(n) for i, n in reg.alive_counts().items()}
    strengths = reg.strengths()
    fields["histogram"] = _histogram(torch.cat([s.flatten() for s in strengths.values()]), m.source)
    fields["widths"] = alive
    fields["extra"].update({"alive": alive, "lambda": lam, "final_lambda": state["lam"], "seed_cost": seed_cost,
                            "initial_cost": fields["history"].get("reg_cost", [math.nan])[0],
                            "sources": {n: g.source for n, g in reg.groups.items()}})
    product = Product(dict(parent.widths), _cpu_state(model), {"alive": alive}) if result.ok else None
    return Outcome(product, fields)


def _lambda(strength: float, relative: bool, penalty: Callable[[], torch.Tensor]) -> float:
    """λ as given, or ``strength / G(θ₀)`` when the suite gives the penalty's starting size instead."""
    if not relative:
        return strength
    with torch.no_grad():
        start = float(penalty())
    if not start > 0:
        raise BenchError(f"morph.relative_strength: the penalty is {start} at the start; give an absolute strength")
    return strength / start


def _param_groups(model: nn.Module, reg: MorphNetRegularizer, lr: float | None) -> list[dict[str, Any]] | None:
    """The γ (gamma-source strengths) in a group of their own at ``lr``; everything else at the default."""
    if lr is None:
        return None
    strengths = {id(p): p for src in reg.sources for p in src.scale_params}
    rest = [p for p in model.parameters() if id(p) not in strengths]
    return [{"params": rest}, {"params": list(strengths.values()), "lr": lr}]


def _blog_shape(ctx: CaseContext) -> dict[str, int]:
    model = ctx.base_model
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "convs_per_level" not in config:
        raise BenchError(f"case {ctx.case.id}: morph.method: 'blog' works on the blog's U-Net family only")
    return {"base": model.widths["enc0.0"], "depth": config["depth"], "convs_per_level": config["convs_per_level"]}


def _learn_blog(ctx: CaseContext, stage: Stage, parent: Product) -> Outcome:
    m = ctx.case.config.morph
    shape = _blog_shape(ctx)
    model = _regularized_model(ctx, parent)
    penalty: Callable[[], torch.Tensor]
    if m.source == "group_lasso":
        penalty = lambda: blog.group_lasso_penalty(model, m.threshold)  # noqa: E731
        of = [c.weight for _, c in blog.blog_convs(model)]
    else:
        penalty = lambda: blog.gamma_penalty(model, m.threshold)  # noqa: E731
        of = [n.weight for _, n in blog.blog_norms(model)]
    lam = _lambda(m.strength, m.relative_strength, penalty)
    result = train(model, ctx.splits, _learn_config(ctx), hooks=TrainHooks(
        extra_loss=lambda: lam * penalty(),
        on_epoch_end=lambda epoch: {"reg_cost": float(penalty().detach())},
    ))
    fields = _train_fields(result)
    fractions = blog.alive_fractions(model, m.threshold, m.dead_layers)
    if parent.info.get("blog_fac") is not None:  # iteration ≥ 2: re-express against the seed widths
        fac = blog.blog_carry_over(parent.info["blog_fac"], fractions, parent.info["blog_exp"], **shape)
    else:
        fac = fractions
    fields["histogram"] = _histogram(torch.cat([w.detach().flatten() for w in of]), m.source)
    fields["extra"].update({"fractions": fractions, "blog_fac": fac, "lambda": lam})
    product = Product(dict(parent.widths), _cpu_state(model), {"blog_fac": fac}) if result.ok else None
    return Outcome(product, fields)


def run_shrink(ctx: CaseContext, stage: Stage, parent: Product | None) -> Outcome:
    assert parent is not None
    m = ctx.case.config.morph
    if m.method == "blog":
        widths = blog.blog_widths(parent.info["blog_fac"], symmetry_level=m.symmetry, min_fac=m.min_fraction,
                                  exp=1.0, index_shift_bug=m.index_shift_bug, **_blog_shape(ctx))
        info = {"blog_fac": parent.info["blog_fac"]}
    else:
        widths = derive_widths(parent.info["alive"], parent.widths, min_fraction=m.min_fraction,
                               min_width=m.min_width, multiple=m.multiple if m.multiple > 1 else None)
        widths = apply_ties(widths, _ties(ctx))
        info = {}
    return _train_from_scratch(ctx, widths, info)


def _cost_fn(ctx: CaseContext) -> Callable[[Mapping[str, int]], float]:
    m = ctx.case.config.morph
    if m.resource == "latency" and m.budget_by == "measurement":
        measure = ctx.case.config.measure

        def measured(widths: Mapping[str, int]) -> float:
            model = ctx.model_at(widths)
            return measure_latency(model, ctx.input_shape, device=ctx.device, batch=measure.batch_sizes[0],
                                   threads=measure.threads, warmup=measure.warmup, min_runs=measure.min_runs,
                                   min_time_s=measure.min_time_s).median

        return measured
    resource = {"params": "params_exact", "flops": "flops", "latency": "latency"}[m.resource]
    return graph_cost_fn(ctx.graph, resource, device=_device_profile(ctx))


def _target(ctx: CaseContext, widths: Mapping[str, int], seed: Mapping[str, int]) -> dict[str, Any]:
    """Widths for an expand or uniform stage: the budget (default: the seed model's own cost) or a factor."""
    m = ctx.case.config.morph
    ties = _ties(ctx)
    multiple = m.multiple if m.multiple > 1 else None
    if m.expand_factor is not None:
        scaled = {k: max(m.min_width, int(w * m.expand_factor)) for k, w in widths.items()}
        return {"widths": apply_ties(scaled, ties), "multiplier": m.expand_factor, "budget": None}
    cost_fn = _cost_fn(ctx)
    budget = m.budget if m.budget is not None else cost_fn(seed)
    floors = {k: width_floor(seed.get(k, w), m.min_fraction, m.min_width) for k, w in widths.items()}
    found = width_multiplier_search(widths, budget, cost_fn, ties, min_width=m.min_width, min_widths=floors,
                                    multiple=multiple)
    return {"widths": dict(found.widths), "multiplier": found.multiplier, "budget": budget, "cost": found.cost,
            "budget_by": m.budget_by if m.resource == "latency" else "model"}


def run_expand(ctx: CaseContext, stage: Stage, parent: Product | None) -> Outcome:
    assert parent is not None
    m = ctx.case.config.morph
    if m.method == "blog":
        return _expand_blog(ctx, parent)
    target = _target(ctx, parent.widths, ctx.seed_widths)
    return _train_from_scratch(ctx, target.pop("widths"), target)


def _expand_blog(ctx: CaseContext, parent: Product) -> Outcome:
    """ExpUNet: ``int(base · fraction · exp)``; ``exp`` hand-given, or the largest one within the budget."""
    m = ctx.case.config.morph
    shape, fac = _blog_shape(ctx), parent.info["blog_fac"]

    def widths_at(exp: float) -> dict[str, int]:
        return blog.blog_widths(fac, symmetry_level=m.symmetry, min_fac=m.min_fraction, exp=exp,
                                index_shift_bug=m.index_shift_bug, **shape)

    if m.expand_factor is not None:
        exp, budget = m.expand_factor, None
    else:
        cost_fn = _cost_fn(ctx)
        budget = m.budget if m.budget is not None else cost_fn(ctx.seed_widths)
        lo, hi = 1.0, 2.0
        while cost_fn(widths_at(hi)) <= budget and hi < 1e4:
            lo, hi = hi, hi * 2
        if cost_fn(widths_at(lo)) > budget:
            lo = 0.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if cost_fn(widths_at(mid)) <= budget else (lo, mid)
        exp = round(lo, 3) if cost_fn(widths_at(round(lo, 3))) <= budget else lo
    info = {"multiplier": exp, "budget": budget, "blog_fac": fac, "blog_exp": exp}
    return _train_from_scratch(ctx, widths_at(exp), info)


def run_uniform(ctx: CaseContext, stage: Stage, parent: Product | None) -> Outcome:
    target = _target(ctx, ctx.seed_widths, ctx.seed_widths)
    return _train_from_scratch(ctx, target.pop("widths"), target)


STAGES: dict[str, Callable[[CaseContext, Stage, Product | None], Outcome]] = {
    "base": run_base, "learn": run_learn, "shrink": run_shrink, "expand": run_expand, "uniform": run_uniform,
}
