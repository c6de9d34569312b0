"""Matrix expansion follows GitHub Actions: product, then exclude (partial match), then include."""

from __future__ import annotations

from typing import Any

from bench.suite._matrix import expand, parse_matrix, unmatched_excludes


def combos(table: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = parse_matrix(table)
    assert matrix.problems == []
    return [c.values for c in expand(matrix)]


def test_product_in_file_order_first_axis_slowest() -> None:
    assert combos({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"},
    ]


def test_no_matrix_is_one_empty_combination() -> None:
    assert combos({}) == [{}]


def test_exclude_removes_partial_matches() -> None:
    # GitHub docs: excluding {os: windows-latest, version: 12} style partial entries
    out = combos({"os": ["mac", "win"], "version": [12, 14, 16], "env": ["a", "b"],
                  "exclude": [{"os": "win", "version": 16}, {"env": "b", "os": "mac"}]})
    assert {"os": "win", "version": 16, "env": "a"} not in out
    assert all(not (c["os"] == "mac" and c["env"] == "b") for c in out)
    assert len(out) == 12 - 2 - 3


def test_include_github_fruit_example() -> None:
    # docs.github.com "Expanding or adding matrix configurations", verbatim
    out = combos({
        "fruit": ["apple", "pear"], "animal": ["cat", "dog"],
        "include": [
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ],
    })
    assert out == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_include_adds_key_to_the_matching_combination() -> None:
    # docs.github.com: os × node, include {os: windows-latest, node: 20, npm: 6}
    out = combos({"os": ["windows-latest", "ubuntu-latest"], "node": [18, 20],
                  "include": [{"os": "windows-latest", "node": 20, "npm": 6}]})
    assert [c.get("npm") for c in out] == [None, 6, None, None]


def test_include_only_matrix_gives_its_entries() -> None:
    # docs.github.com "Adding configurations": no axes, each include is a job
    out = combos({"include": [{"site": "production", "datacenter": "site-a"},
                              {"site": "staging", "datacenter": "site-b"}]})
    assert out == [{"site": "production", "datacenter": "site-a"}, {"site": "staging", "datacenter": "site-b"}]


def test_include_after_exclude_can_bring_a_combination_back() -> None:
    out = combos({"a": [1, 2], "exclude": [{"a": 2}], "include": [{"a": 2}]})
    assert out == [{"a": 1}, {"a": 2}]


def test_nested_tables_flatten_to_dotted_keys() -> None:
    out = combos({"morph": {"symmetry": [1, 2]}, "exclude": [{"morph": {"symmetry": 2}}],
                  "include": [{"morph": {"symmetry": 1, "threshold": 0.5}}]})
    assert out == [{"morph.symmetry": 1, "morph.threshold": 0.5}]


def test_table_valued_axis_is_taken_whole() -> None:
    out = combos({"model": [{"name": "unet"}, {"name": "smp_unet", "encoder": "resnet18"}],
                  "include": [{"model": {"name": "unet"}, "train.lr": 0.1}]})
    assert out == [{"model": {"name": "unet"}, "train.lr": 0.1}, {"model": {"name": "smp_unet", "encoder": "resnet18"}}]


def test_true_is_not_one() -> None:
    out = combos({"a": [1, True], "exclude": [{"a": True}]})
    assert out == [{"a": 1}]


def test_unmatched_exclude_and_bad_shapes_are_reported() -> None:
    matrix = parse_matrix({"a": [1, 2], "b": 3, "exclude": [{"a": 3}, {"a": 1}, {"c": 1}]})
    assert ((("b",), "expected a non-empty list of values")) in matrix.problems
    assert any(loc == ("exclude", 2, "c") for loc, _ in matrix.problems)
    assert unmatched_excludes(matrix) == [0, 2]
