"""Width-multiplier search: the largest ω with cost(ω · widths) ≤ budget (MorphNet's expand step, Algorithm 1).

Each tie set (see :mod:`morph.symmetry`) is scaled once, so tied layers always round alike (issue #75 of
morph-net: per-layer rounding breaks ties). A set of width ``w`` becomes ``max(min_width, floor(ω·w))``:
rounding down keeps every width, and so the cost, monotone in ω, which bisection needs. Image channels and
classes are not groups, so they stay fixed. Floors waste budget, so after bisection a greedy pass rounds
single tie sets up (largest remainder first) while the cost stays within budget; the final cost is always
one that ``cost_fn`` measured at ≤ budget. ``cost_fn`` is any callable (a graph cost in params/FLOPs/latency,
or a measured latency), which is why the search only ever compares its values with the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from morph.errors import MorphError
from morph.graph import ChannelGraph
from morph.symmetry import tie_partition
from morph.widths import names_to_ids

CostFn = Callable[[Mapping[str, int]], float]


@dataclass(frozen=True)
class MultiplierResult:
    """Outcome of a search; ``widths`` may exceed ``floor(multiplier · w)`` by the top-up step."""

    multiplier: float
    widths: dict[str, int]
    cost: float
    budget: float
    iterations: int
    evaluations: int

    @property
    def utilisation(self) -> float:
        """cost / budget (≤ 1)."""
        return self.cost / self.budget if self.budget else 1.0


def width_multiplier_search(
    widths: Mapping[str, int],
    budget: float,
    cost_fn: CostFn,
    ties: Iterable[Iterable[str]] = (),
    *,
    min_width: int = 1,
    min_widths: Mapping[str, int] | None = None,
    multiple: int | None = None,
    top_up: bool = True,
    rel_tol: float = 1e-4,
    max_multiplier: float = 1024.0,
) -> MultiplierResult:
    """Scale ``widths`` uniformly (per tie set) to the largest size whose ``cost_fn`` fits ``budget``.

    Args:
        widths: width per group name (e.g. shrunk widths from :func:`~morph.widths.derive_widths`).
        budget: the resource limit, in ``cost_fn``'s unit.
        cost_fn: widths → cost; must grow with widths (up to noise: only measured values are trusted).
        ties: name sets that must keep equal widths; a set's widths are first raised to its maximum.
        min_width: the smallest width any group may get.
        min_widths: per-name floors on top of ``min_width`` (a tie set takes its members' largest), e.g. the
            shrink step's ``min_fraction`` floors, so that a multiplier below 1 cannot take a layer to one channel.
        multiple: widths become multiples of this (rounded down, but at least one multiple).
        top_up: after bisection, round tie sets up one step while the budget allows.
        rel_tol: bisection stops when the bracket is this narrow relative to ω.
        max_multiplier: give up growing beyond this ω.

    Raises:
        MorphError: a budget below the cost at the minimum widths (both numbers in the message).
    """
    if min_width < 1 or (multiple is not None and multiple < 1):
        raise MorphError(f"min_width and multiple must be ≥ 1, got {min_width} and {multiple}")
    if not widths:
        raise MorphError("no widths to scale")
    step = multiple or 1
    parts = tie_partition(list(widths), ties)
    bases = [max(widths[n] for n in p) for p in parts]
    # each tie set's floor: the largest of min_width and its members' min_widths, rounded up to the step
    floors = [-(-max([min_width, *((min_widths or {}).get(n, 1) for n in p)]) // step) * step for p in parts]
    cache: dict[tuple[int, ...], float] = {}

    def part_widths(omega: float) -> tuple[int, ...]:
        return tuple(max(f, step * math.floor(omega * b / step + 1e-9)) for f, b in zip(floors, bases))

    def expand(pw: tuple[int, ...]) -> dict[str, int]:
        return {n: w for p, w in zip(parts, pw) for n in p}

    def cost(pw: tuple[int, ...]) -> float:
        if pw not in cache:
            cache[pw] = float(cost_fn(expand(pw)))
        return cache[pw]

    floor_cost = cost(part_widths(0.0))
    if floor_cost > budget:
        raise MorphError(f"budget {budget:g} is below the cost at the minimum widths ({floor_cost:g})")
    lo, hi = 0.0, 1.0
    while cost(part_widths(hi)) <= budget:
        lo, hi = hi, hi * 2
        if hi > max_multiplier:
            raise MorphError(f"cost stays within budget {budget:g} up to ω = {lo:g}; is cost_fn constant?")
    lo, iterations = bisect_largest(lambda omega: cost(part_widths(omega)) <= budget, lo, hi, rel_tol=rel_tol)
    best = list(part_widths(lo))
    if top_up:
        order = sorted(range(len(parts)), key=lambda i: (lo * bases[i] / step) % 1.0, reverse=True)
        for i in order:
            trial = list(best)
            trial[i] += step
            if cost(tuple(trial)) <= budget:
                best = trial
    final = tuple(best)
    return MultiplierResult(multiplier=lo, widths=expand(final), cost=cost(final), budget=float(budget),
                            iterations=iterations, evaluations=len(cache))


def bisect_largest(fits: Callable[[float], bool], lo: float, hi: float, *, rel_tol: float | None = None,
                   steps: int | None = None) -> tuple[float, int]:
    """The largest value in ``[lo, hi)`` that ``fits``, by bisection (``fits(lo)`` true, ``fits(hi)`` false).

    Stops after ``steps`` halvings, or when the bracket is ``rel_tol`` narrow relative to ``hi``. Returns the
    last value that fitted and the number of halvings.
    """
    if (rel_tol is None) == (steps is None):
        raise ValueError("give either rel_tol or steps")
    n = 0
    while n < steps if steps is not None else hi - lo > rel_tol * hi:  # type: ignore[operator]
        mid = (lo + hi) / 2
        n += 1
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo, n


def uniform_multiplier_widths(
    seed_widths: Mapping[str, int], budget: float, cost_fn: CostFn, **kwargs: object
) -> MultiplierResult:
    """The baseline: one multiplier on the *seed* widths, at the same budget (no structure learning)."""
    return width_multiplier_search(seed_widths, budget, cost_fn, **kwargs)  # type: ignore[arg-type]


def graph_cost_fn(
    graph: ChannelGraph, resource: str = "params", device: str | None = None, batch: int = 1
) -> CostFn:
    """A ``cost_fn`` over group names from :func:`morph.resources.graph_cost` (``params_exact`` counts
    biases and norms too, i.e. exactly what ``sum(p.numel())`` of the rebuilt model will say)."""
    from morph.resources import graph_cost

    def fn(widths: Mapping[str, int]) -> float:
        return graph_cost(graph, names_to_ids(graph, widths), resource=resource, device=device, batch=batch)

    return fn
