"""MorphNet: learn structure with a resource-weighted regularizer, shrink to the alive widths, expand with one
width multiplier per tie set to the budget; repeated ``morph.iterations`` times."""

from __future__ import annotations

import math
from typing import Any

from bench.methods.base import Method, StageSettings, StageSpec, register_method
from bench.methods.products import AliveWidths, removal_notes

#: Every structure-learning setting. Both learning methods key their learn stage by all of them (what results
#: were keyed by before stages declared their settings), so a method reads a subset.
LEARN_READS = tuple(f"morph.{k}" for k in (
    "method", "resource", "source", "strength", "threshold", "optimizer", "lr", "strength_lr", "relative_strength",
    "target_cost", "epochs", "proximal", "device_profile", "warm_start", "dead_layers", "learn_floor",
    "strength_warmup", "learn_max_rate", "learn_floor_ramp",
))
#: Every shrink setting (both learning methods' shrink stages are keyed by all of them).
SHRINK_READS = tuple(f"morph.{k}" for k in ("min_fraction", "min_width", "multiple", "symmetry", "index_shift_bug",
                                             "channel_divisor", "remove_dead_layers"))
#: What meeting a budget reads.
BUDGET_READS = tuple(f"morph.{k}" for k in ("budget", "expand_factor", "resource", "device_profile", "budget_by",
                                             "budget_share"))


def learn(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """Train with λ·G(θ) (in the loss, or as a proximal step), λ fixed or steered to ``target_cost`` and ramped
    up from 0 over ``strength_warmup`` epochs; the product carries the alive widths."""
    from bench.pipeline import stages as S
    from bench.methods.products import Outcome, Product
    from bench.train import TrainHooks, train
    from morph import MorphNetRegularizer, ProximalStep
    from morph.schedule import LearnSchedule

    model = S.regularized_model(ctx, parent, m.warm_start)
    reg = MorphNetRegularizer(model, ctx.example, resource=m.resource, source=m.source, threshold=m.threshold,
                              device=S.device_profile(m))
    config = S.learn_config(ctx, m)
    lam = S.strength_lambda(m.strength, m.relative_strength, lambda: reg.penalty())
    seed_cost = reg.cost()
    per_epoch = math.ceil(len(ctx.splits.train) / config.batch_size)
    schedule = LearnSchedule(lam, config.epochs * per_epoch, warmup_steps=round(m.strength_warmup * per_epoch),
                             target=m.target_cost, floor=m.learn_floor,
                             floor_ramp_steps=round(m.learn_floor_ramp * per_epoch))
    prox = ProximalStep(reg, lam, keep=m.learn_floor, max_rate=m.learn_max_rate) if m.proximal else None
    cap = (lambda: prox.cap) if prox is not None else (lambda: math.inf)

    def epoch_end(epoch: int) -> dict[str, float]:
        alive = reg.alive_counts()
        row = {"reg_cost": reg.cost(), "reg_penalty": float(reg.penalty().detach()),
               "lambda": min(schedule.strength_now(), cap()),
               "alive_fraction": sum(alive.values()) / sum(g.width for g in reg.graph.groups)}
        if prox is not None and prox.max_rate is not None:
            row["lambda_cap"] = prox.cap
        if prox is not None and schedule.floor_ramp_steps:
            row["floor"] = prox.keep
        return row

    def after_step(optimizer: Any) -> None:
        if prox is not None:
            prox.strength, prox.keep = schedule.strength_now(), schedule.floor_now()
            prox.after_step(optimizer)
        schedule.advance(reg.cost() / seed_cost if seed_cost > 0 else math.nan, cap())

    groups = S.param_groups(model, reg, m.strength_lr)
    hooks = TrainHooks(extra_loss=None if m.proximal else (lambda: schedule.strength_now() * reg.penalty()),
                       after_step=after_step, on_epoch_end=epoch_end, param_groups=groups)
    result = train(model, ctx.splits, config, hooks=hooks)
    fields = S.train_fields(result)
    names = {g.id: g.name for g in reg.graph.groups}
    alive = {names[i]: int(n) for i, n in reg.alive_counts().items()}
    strengths = reg.strengths()
    import torch

    fields["histogram"] = S.histogram(torch.cat([s.flatten() for s in strengths.values()]), m.source)
    fields["widths"] = alive
    fields["extra"].update({"alive": alive, "lambda": lam, "final_lambda": schedule.strength, "seed_cost": seed_cost,
                            "initial_cost": fields["history"].get("reg_cost", [math.nan])[0],
                            "sources": {n: g.source for n, g in reg.groups.items()}})
    product = Product(dict(parent.widths), S.cpu_state(model), AliveWidths(alive)) if result.ok else None
    return Outcome(product, fields)


def shrink(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """Alive widths (floored by ``min_fraction``/``min_width``, rounded to ``multiple`` and ``channel_divisor``),
    tied, retrained; with ``remove_dead_layers``, without the block convs whose channels all died."""
    from bench.errors import BenchError
    from bench.pipeline import stages as S
    from morph import apply_ties, derive_widths
    from morph.errors import MorphError
    from morph.layer_removal import block_convs, dead_convs

    alive = parent.facts_as(AliveWidths).alive
    widths = derive_widths(alive, parent.widths, min_fraction=m.min_fraction, min_width=m.min_width,
                           multiple=m.multiple if m.multiple > 1 else None, divisor=m.channel_divisor)
    if not m.remove_dead_layers:
        return S.train_from_scratch(ctx, apply_ties(widths, S.ties(ctx, m.symmetry)))
    try:
        removed = dead_convs(alive, block_convs(ctx.base_model))
    except MorphError as exc:
        raise BenchError(f"case {ctx.case.id}: morph.remove_dead_layers: {exc}") from None
    kept = {k: w for k, w in widths.items() if k not in removed}
    return S.train_from_scratch(ctx, apply_ties(kept, S.ties(ctx, m.symmetry, removed)), notes=removal_notes(removed),
                                remove=removed)


def expand(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """The shrunk widths times the largest multiplier within the budget, retrained (without the block convs
    the shrink removed)."""
    from bench.pipeline import stages as S

    removed = list(parent.removed)
    target = S.multiplier_target(ctx, m, parent.widths, remove=removed)
    if removed:
        target.update(removal_notes(removed))
    return S.train_from_scratch(ctx, target.pop("widths"), notes=target, remove=removed)


MORPHNET = register_method(Method(
    name="morphnet", label="MorphNet",
    stages=(
        StageSpec("learn", "Learn", learn, reads=LEARN_READS, facts=AliveWidths),
        StageSpec("shrink", "Shrunk", shrink, reads=SHRINK_READS),
        StageSpec("expand", "Expanded", expand, reads=BUDGET_READS,
                  inherits=("min_width", "min_fraction", "multiple", "symmetry", "channel_divisor",
                            "remove_dead_layers")),
    ),
    meets_budget="width multiplier search over the shrunk widths (one multiplier per tie set, greedy top-up)",
))
