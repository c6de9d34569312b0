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
