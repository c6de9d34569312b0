"""Width-multiplier search: largest ω within budget, ties scaled once, rounding never over budget."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from morph.errors import MorphError
from morph.groups import build_graph
from morph.models import blog_unet
from morph.rebuild import rebuild
from morph.search import graph_cost_fn, uniform_multiplier_widths, width_multiplier_search
from morph.symmetry import apply_ties, symmetry_ties
from morph.widths import derive_widths

CHAIN = ("a", "b", "c")


def chain_params(w: Mapping[str, int]) -> float:
    """image(3) → a → b → c → head(1), 3×3 convs, weights only."""
    return 9 * (3 * w["a"] + w["a"] * w["b"] + w["b"] * w["c"]) + w["c"]


def test_grows_to_the_budget_and_no_set_can_take_another_channel() -> None:
    widths = {"a": 10, "b": 20, "c": 5}
    r = width_multiplier_search(widths, 50_000, chain_params)
    assert r.cost == chain_params(r.widths) <= 50_000 == r.budget
    assert r.multiplier > 1 and r.iterations > 0 and r.evaluations >= r.iterations
    for n in CHAIN:
        w = {k: max(v, int(r.multiplier * widths[k])) for k, v in r.widths.items()}
        if w[n] == int(r.multiplier * widths[n]):  # not topped up: one more channel must not fit
            w[n] += 1
            assert chain_params(w) > 50_000
    assert 0.97 < r.utilisation <= 1.0


def test_shrinks_when_the_budget_is_small() -> None:
    r = width_multiplier_search({"a": 64, "b": 64, "c": 64}, 20_000, chain_params)
    assert r.multiplier < 1 and r.cost <= 20_000


def test_per_layer_floors_hold_when_the_multiplier_is_below_one() -> None:
    """ω ≈ 0.72 takes a 2-channel layer to floor(1.44) = 1; its floor (the shrink step's min_fraction floor,
    say) keeps it at 2. A tie set takes its members' largest floor; a multiple rounds a floor up."""
    widths = {"a": 2, "b": 64, "c": 64}
    free = width_multiplier_search(widths, 20_000, chain_params)
    floored = width_multiplier_search(widths, 20_000, chain_params, min_widths={"a": 2})
    assert free.multiplier < 1 and free.widths["a"] == 1
    assert floored.widths["a"] == 2 and floored.cost == chain_params(floored.widths) <= 20_000
    tied = width_multiplier_search(widths, 20_000, chain_params, ties=[{"a", "c"}], min_widths={"a": 50})
    assert tied.widths["a"] == tied.widths["c"] >= 50
    eights = width_multiplier_search({"a": 8, "b": 64, "c": 64}, 20_000, chain_params, min_widths={"a": 5}, multiple=8)
    assert eights.widths["a"] == 8 and all(w % 8 == 0 for w in eights.widths.values())


def test_tied_groups_are_scaled_once_and_round_alike() -> None:
    r = width_multiplier_search({"a": 7, "b": 30, "c": 3}, 12_345, chain_params, ties=[{"a", "c"}])
    assert r.widths["a"] == r.widths["c"]


def test_budget_below_the_floor_names_both_numbers() -> None:
    floor = chain_params({"a": 1, "b": 1, "c": 1})
    with pytest.raises(MorphError, match=rf"budget 10 is below the cost at the minimum widths \({floor:g}\)"):
        width_multiplier_search({"a": 4, "b": 4, "c": 4}, 10, chain_params)


def test_multiple_of_eight() -> None:
    r = width_multiplier_search({"a": 10, "b": 20, "c": 5}, 80_000, chain_params, multiple=8)
    assert all(w % 8 == 0 for w in r.widths.values()) and r.cost <= 80_000


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=3, max_size=3), st.floats(200, 2e6), st.booleans())
def test_never_over_budget(ws: list[int], budget: float, tie: bool) -> None:
    widths = dict(zip(CHAIN, ws))
    try:
        r = width_multiplier_search(widths, budget, chain_params, ties=[{"a", "b"}] if tie else ())
    except MorphError:
        assert chain_params({"a": 1, "b": 1, "c": 1}) > budget
        return
    assert r.cost == chain_params(r.widths) <= budget


def test_uniform_baseline_is_the_same_search_on_seed_widths() -> None:
    seed = {"a": 16, "b": 32, "c": 64}
    assert uniform_multiplier_widths(seed, 30_000, chain_params) == width_multiplier_search(seed, 30_000, chain_params)


@pytest.fixture(scope="module")
def unet64() -> tuple[torch.nn.Module, object]:
    torch.manual_seed(0)
    model = blog_unet(64)
    return model, build_graph(model, torch.zeros(1, 3, 32, 32))


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_shrink_then_expand_the_blog_unet_to_3m_params(unet64: tuple, level: int) -> None:  # type: ignore[type-arg]
    model, graph = unet64
    seed = dict(model.widths)
    assert {g.name for g in graph.groups} == set(seed)
    made_up = [0.9, 0.0, 0.55, 0.05, 0.5, 0.0, 0.47, 0.02, 0.42, 0.6, 0.3, 0.0, 0.4, 0.0, 0.47, 0.1, 0.51, 0.0, 0.6,
               0.2, 0.0, 0.35]
    alive = {k: round(f * seed[k]) for k, f in zip(seed, made_up)}
    ties = symmetry_ties(model, level)
    shrunk = apply_ties(derive_widths(alive, seed, min_fraction=0.1), ties)
    cost = graph_cost_fn(graph, "params_exact")
    r = width_multiplier_search(shrunk, 3_000_000, cost, ties=ties)
    assert apply_ties(r.widths, ties) == r.widths
    new = rebuild(model, r.widths)
    n = sum(p.numel() for p in new.parameters())
    assert n == r.cost and 2_700_000 <= n <= 3_000_000


def test_uniform_baseline_on_the_blog_unet(unet64: tuple) -> None:  # type: ignore[type-arg]
    model, graph = unet64
    r = uniform_multiplier_widths(model.widths, 3_000_000, graph_cost_fn(graph, "params_exact"),
                                  ties=symmetry_ties(model, 1))
    assert 2_900_000 <= r.cost <= 3_000_000 and 0.3 < r.multiplier < 0.32
