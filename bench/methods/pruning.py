"""The structured-pruning baselines (issue 12): the trained seed pruned once to the budget with Torch-Pruning's
importance and pruner (:mod:`morph.prune`), then fine-tuned with the suite's ``[train]`` recipe and epochs, the
recipe MorphNet's expanded model trains with.

- ``l1_norm`` (group-aware filter L1) and ``random``: prune, fine-tune.
- ``slimming`` (BN-γ magnitude) and ``group_norm`` (DepGraph's group norm): first a sparse-training phase of
  ``morph.epochs`` epochs (``morph.optimizer``/``morph.lr``, like MorphNet's structure learning) with their
  pruner's own regularizer added to the gradients (network slimming's γ-L1; DepGraph's importance-scaled decay),
  at the Torch-Pruning defaults the authors use (``reg`` 1e-5 and 1e-4), then prune and fine-tune.

The budget is met as MorphNet's is: ``morph.budget`` in ``morph.resource`` (the seed's cost when unset), counted
by the same cost function; pruning steps the pruning ratio until the cost is at or under the budget, within 2%.
Channels are ranked across layers, except ``l1_norm``'s, ranked within each layer (:mod:`morph.prune` says why).
"""

from __future__ import annotations

from typing import Any

from bench.errors import BenchError
from bench.methods.base import Method, StageSettings, StageSpec, register_method
from bench.methods.morphnet import BUDGET_READS

#: What the sparse-training phase reads: the criterion (= method), and the structure-learning run's schedule.
SPARSE_READS = tuple(f"morph.{k}" for k in ("method", "epochs", "optimizer", "lr"))
#: What the cut reads: the criterion, the budget, and the width rounding.
PRUNE_READS = ("morph.method", *BUDGET_READS, "morph.channel_divisor")
#: Within this share under the budget (the authors' MACs-target loop).
TOLERANCE = 0.02


def _trained(ctx: Any, parent: Any) -> Any:
    model = ctx.model_at(parent.widths, remove=parent.removed)
    model.load_state_dict(parent.state)
    return model


def sparse(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """The seed trained on with the pruner's sparse-training term on its gradients; keeps the last epoch."""
    from bench.methods.products import Outcome, Product
    from bench.pipeline import stages as S
    from bench.train import TrainHooks, train
    from morph.prune import Pruning

    model = _trained(ctx, parent)
    pruning = Pruning(model, ctx.example, m.method, seed=ctx.case.seed)
    result = train(model, ctx.splits, S.learn_config(ctx, m), hooks=TrainHooks(after_backward=pruning.regularize))
    fields = S.train_fields(result)
    return Outcome(Product(dict(parent.widths), S.cpu_state(model)) if result.ok else None, fields)


def prune(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """The parent's weights pruned to the budget, then fine-tuned from the surviving weights."""
    from bench.methods.products import Outcome, Product
    from bench.pipeline import stages as S
    from bench.train import train
    from morph.errors import MorphError
    from morph.prune import Pruning

    if S.is_timed(m) and m.budget_by == "measurement":
        raise BenchError(f"case {ctx.case.id}: morph.budget_by = \"measurement\": pruning evaluates its cost after "
                         "every cut and needs a cost model; use \"model\" (a calibrated device profile)")
    cost = S.cost_fn(ctx, m)
    budget = S.budget_of(ctx, m, cost)
    model = _trained(ctx, parent)
    round_to = m.channel_divisor if m.channel_divisor > 1 else None
    try:
        cut = Pruning(model, ctx.example, m.method, round_to=round_to, seed=ctx.case.seed).prune_to(
            budget, cost, TOLERANCE)
    except MorphError as exc:
        raise BenchError(f"case {ctx.case.id}: {exc}") from None
    result = train(cut.model, ctx.splits, ctx.train_config())
    notes = {"budget": budget, "cost": cut.cost, "seed_cost": cut.base_cost, "prune_steps": cut.steps}
    fields = S.train_fields(result)
    fields["extra"].update(notes)
    product = Product(dict(cut.widths), S.cpu_state(cut.model), None, notes) if result.ok else None
    return Outcome(product, fields)


def pruning_method(name: str, label: str, sparse_training: bool) -> Method:
    """Register the baseline whose Torch-Pruning criterion is ``name`` (:func:`morph.prune.criterion_names`)."""
    stages = (StageSpec("sparse", "Sparse", sparse, reads=SPARSE_READS, repeats=False),) if sparse_training else ()
    return register_method(Method(
        name=name, label=label,
        stages=(*stages, StageSpec("prune", "Pruned", prune, reads=PRUNE_READS, repeats=False)),
        meets_budget="Torch-Pruning's pruning ratio stepped until the cost is at most the budget, within 2%",
    ))


L1_NORM = pruning_method("l1_norm", "L1-norm pruning", sparse_training=False)
RANDOM = pruning_method("random", "random pruning", sparse_training=False)
SLIMMING = pruning_method("slimming", "network slimming", sparse_training=True)
GROUP_NORM = pruning_method("group_norm", "group-norm pruning (DepGraph)", sparse_training=True)
