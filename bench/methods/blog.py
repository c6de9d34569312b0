"""The blog's method (:mod:`morph.blog`): whole-layer group lasso (or γ-L1), per-weight alive fractions,
width = ``int(base · fraction · exp)`` with ``exp`` hand-given or the largest within the budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bench.methods.base import Method, StageSettings, StageSpec, register_method
from bench.methods.morphnet import BUDGET_READS, LEARN_READS, SHRINK_READS
from bench.methods.products import BlogFractions


def _shape(ctx: Any) -> dict[str, int]:
    from bench.errors import BenchError

    model = ctx.base_model
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "convs_per_level" not in config:
        raise BenchError(f"case {ctx.case.id}: morph.method: 'blog' works on the blog's U-Net family only")
    return {"base": model.widths["enc0.0"], "depth": config["depth"], "convs_per_level": config["convs_per_level"]}


def _penalties() -> dict[str, tuple[Callable[..., Any], Callable[[Any], list[tuple[str, Any]]]]]:
    """Source → (the notebooks' penalty, the modules whose weights it regularizes)."""
    from morph import blog

    return {"group_lasso": (blog.group_lasso_penalty, blog.blog_convs), "gamma": (blog.gamma_penalty, blog.blog_norms)}


def learn(ctx: Any, m: StageSettings, parent: Any) -> Any:
    import torch

    from bench.errors import BenchError
    from bench.methods.products import Outcome, Product
    from bench.pipeline import stages as S
    from bench.train import TrainHooks, train
    from morph import blog

    shape = _shape(ctx)
    model = S.regularized_model(ctx, parent, m.warm_start)
    penalties = _penalties()
    if m.source not in penalties:
        raise BenchError(f"morph.source: the blog's method has no '{m.source}' penalty (known: {', '.join(penalties)})")
    penalty_fn, weights = penalties[m.source]

    def penalty() -> torch.Tensor:
        return penalty_fn(model, m.threshold)  # type: ignore[no-any-return]

    of = [mod.weight for _, mod in weights(model)]
    lam = S.strength_lambda(m.strength, m.relative_strength, penalty)
    result = train(model, ctx.splits, S.learn_config(ctx, m), hooks=TrainHooks(
        extra_loss=lambda: lam * penalty(),
        on_epoch_end=lambda epoch: {"reg_cost": float(penalty().detach())},
    ))
    fields = S.train_fields(result)
    fractions = blog.alive_fractions(model, m.threshold, m.dead_layers)
    previous = parent.facts_as(BlogFractions)
    if previous is not None:  # iteration ≥ 2: re-express against the seed widths
        fac = blog.blog_carry_over(previous.fractions, fractions, previous.exp, **shape)
    else:
        fac = fractions
    fields["histogram"] = S.histogram(torch.cat([w.detach().flatten() for w in of]), m.source)
    fields["extra"].update({"fractions": fractions, "blog_fac": fac, "lambda": lam})
    product = Product(dict(parent.widths), S.cpu_state(model), BlogFractions(fac)) if result.ok else None
    return Outcome(product, fields)


def _widths_at(ctx: Any, m: StageSettings, fractions: list[float], exp: float) -> dict[str, int]:
    from morph import blog

    return blog.blog_widths(fractions, symmetry_level=m.symmetry, min_fac=m.min_fraction, exp=exp,
                            index_shift_bug=m.index_shift_bug, **_shape(ctx))


def shrink(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """ShrinkedUNet: ``int(base · fraction)``."""
    from bench.pipeline import stages as S

    facts = parent.facts_as(BlogFractions)
    return S.train_from_scratch(ctx, _widths_at(ctx, m, facts.fractions, 1.0), BlogFractions(facts.fractions))


def largest_exp(cost: Callable[[Mapping[str, int]], float], widths_at: Callable[[float], dict[str, int]],
                budget: float) -> float:
    """The largest ``exp`` whose widths cost at most ``budget``, rounded to 3 decimals when that still fits.

    Why not :func:`morph.width_multiplier_search`: that one scales each tie set's width and floors it, while
    ``exp`` multiplies the blog's fractions before ``int`` (``int(base · fraction · exp)``), and the notebooks'
    numbers need exactly that rounding and bracket; the bisection itself is the search's
    (:func:`morph.search.bisect_largest`).
    """
    from morph.search import bisect_largest

    def fits(exp: float) -> bool:
        return cost(widths_at(exp)) <= budget

    lo, hi = 1.0, 2.0
    while fits(hi) and hi < 1e4:
        lo, hi = hi, hi * 2
    if not fits(lo):
        lo = 0.0
    lo, _ = bisect_largest(fits, lo, hi, steps=40)
    return round(lo, 3) if fits(round(lo, 3)) else lo


def expand(ctx: Any, m: StageSettings, parent: Any) -> Any:
    """ExpUNet: ``int(base · fraction · exp)``; ``exp`` hand-given, or the largest one within the budget."""
    from bench.pipeline import stages as S

    fac = parent.facts_as(BlogFractions).fractions

    def widths_at(exp: float) -> dict[str, int]:
        return _widths_at(ctx, m, fac, exp)

    if m.expand_factor is not None:
        exp, budget = m.expand_factor, None
    else:
        cost = S.cost_fn(ctx, m)
        budget = S.budget_of(ctx, m, cost)
        exp = largest_exp(cost, widths_at, budget)
    return S.train_from_scratch(ctx, widths_at(exp), BlogFractions(fac, exp), {"multiplier": exp, "budget": budget})


BLOG = register_method(Method(
    name="blog", label="MorphNet (blog recipe)",
    stages=(
        StageSpec("learn", "Learn", learn, reads=LEARN_READS, facts=BlogFractions),
        StageSpec("shrink", "Shrunk", shrink, reads=SHRINK_READS, facts=BlogFractions),
        StageSpec("expand", "Expanded", expand, reads=BUDGET_READS,
                  inherits=("symmetry", "min_fraction", "index_shift_bug"), facts=BlogFractions),
    ),
    meets_budget="the largest expansion factor exp with int(base · fraction · exp) within the budget",
))
