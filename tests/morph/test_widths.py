"""derive_widths: floors, rounding to a multiple, and name ↔ id re-keying."""

from __future__ import annotations

import pytest

from morph.errors import MorphError
from morph.graph import ChannelGraph, ChannelGroup
from morph.widths import derive_widths, group_widths, ids_to_names, names_to_ids

SEED = {"a": 64, "b": 128, "c": 6}


def test_alive_counts_become_widths_with_a_floor() -> None:
    w = derive_widths({"a": 40, "b": 0, "c": 3}, SEED, min_fraction=0.1)
    assert w == {"a": 40, "b": 13, "c": 3}  # ceil(0.1 · 128) = 13; never 0


def test_missing_groups_stay_full_and_fractional_counts_round() -> None:
    assert derive_widths({"a": 10.6}, SEED) == {"a": 11, "b": 128, "c": 6}


def test_min_width_floor() -> None:
    assert derive_widths({"c": 0}, SEED, min_fraction=0.0, min_width=4)["c"] == 4


def test_multiple_rounds_up_but_never_above_the_seed() -> None:
    w = derive_widths({"a": 41, "b": 127, "c": 2}, SEED, min_fraction=0.0, multiple=8)
    assert w == {"a": 48, "b": 128, "c": 6}


@pytest.mark.parametrize(
    "alive, kw, match",
    [
        ({"zz": 1}, {}, "unknown groups"),
        ({"a": 65}, {}, "outside"),
        ({"a": -1}, {}, "outside"),
        ({}, {"min_fraction": 1.5}, "min_fraction"),
        ({}, {"min_width": 0}, "min_width"),
        ({}, {"multiple": 0}, "multiple"),
    ],
)
def test_bad_input_is_one_line_error(alive: dict[str, float], kw: dict[str, float], match: str) -> None:
    with pytest.raises(MorphError, match=match):
        derive_widths(alive, SEED, **kw)  # type: ignore[arg-type]


def test_rekeying_round_trips() -> None:
    graph = ChannelGraph(groups=[ChannelGroup(0, 8, ("x",), name="x"), ChannelGroup(1, 4, ("y",), name="y")],
                         layers=[])
    assert group_widths(graph) == {"x": 8, "y": 4}
    assert names_to_ids(graph, {"y": 2}) == {1: 2}
    assert ids_to_names(graph, {1: 2}) == {"y": 2}
    with pytest.raises(MorphError, match="no channel groups"):
        names_to_ids(graph, {"nope": 1})


def test_round_to_divisor_hand_worked() -> None:
    from morph.widths import round_to_divisor

    assert round_to_divisor(13, 8, high=64) == 16  # nearest multiple (13 is 3 from 16, 5 from 8)
    assert round_to_divisor(11, 8, high=64) == 8
    assert round_to_divisor(12, 8, high=64) == 16  # halves round up
    assert round_to_divisor(3, 8, high=64) == 8  # at least one divisor
    assert round_to_divisor(60, 8, high=61) == 56  # never above the cap: 64 > 61
    assert round_to_divisor(9, 8, low=10, high=64) == 16  # the floor rounds up to a multiple
    assert round_to_divisor(20, 16, low=20, high=30) == 16  # no multiple in [20, 30]: the largest below the cap
    assert round_to_divisor(5, 8, high=6) == 5  # no multiple fits under the cap: unchanged
    assert round_to_divisor(7, 1, high=6) == 7  # divisor 1: as before


def test_derive_widths_divisor_gives_multiples_within_seed() -> None:
    seed = {"a": 64, "b": 32, "c": 20, "d": 6}
    alive = {"a": 37, "b": 2, "c": 19, "d": 6}
    # a: 37 → 40; b: floor ceil(0.1·32) = 4 → 8; c: 19 → 16 (24 > seed 20); d: seed 6 < 8 stays 6
    assert derive_widths(alive, seed, min_fraction=0.1, divisor=8) == {"a": 40, "b": 8, "c": 16, "d": 6}
    assert derive_widths(alive, seed, min_fraction=0.1) == {"a": 37, "b": 4, "c": 19, "d": 6}
    with pytest.raises(MorphError, match="divisor"):
        derive_widths(alive, seed, divisor=0)
