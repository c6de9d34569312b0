"""Matrix expansion with GitHub Actions semantics, over dotted setting keys.

1. The product of the axes, in file order (the first axis varies slowest).
2. ``exclude``: a combination matching *all* pairs of an entry (a partial match over the axes) is removed.
3. ``include``, processed after exclude, entry by entry: its pairs are added to every combination whose
   *original* axis values it does not contradict (values added by an earlier include may be overwritten);
   when it fits no combination it is appended as a new one. Combinations created by an include are not
   candidates for later includes (GitHub's documented fruit/animal example needs that).
With no axes, each include is its own combination (GitHub's "adding configurations" example).

Tables inside the matrix are flattened to dotted keys, so ``"morph.symmetry" = [1, 2]``,
``morph.symmetry = [1, 2]`` and ``{ morph.symmetry = 2 }`` in an include all name the same key. In include and
exclude entries, flattening stops at an axis key (its values are taken whole).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Combo = dict[str, Any]


@dataclass(frozen=True)
class Matrix:
    """A parsed ``[matrix]`` table; ``problems`` are (location, message) pairs, locations relative to it."""

    axes: dict[str, list[Any]]
    exclude: list[Combo]
    include: list[Combo]
    problems: list[tuple[tuple[str | int, ...], str]]


@dataclass(frozen=True)
class Expanded:
    """One combination and where each of its values came from (for error messages)."""

    values: Combo
    origin: dict[str, tuple[str | int, ...]]


def parse_matrix(table: Mapping[str, Any]) -> Matrix:
    """Split a ``[matrix]`` table into axes, exclude and include, collecting shape problems."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    axes: dict[str, list[Any]] = {}
    for key, value in _flatten({k: v for k, v in table.items() if k not in ("exclude", "include")}).items():
        if not isinstance(value, list) or not value:
            problems.append(((key,), "expected a non-empty list of values"))
        else:
            axes[key] = value
    entries: dict[str, list[Combo]] = {}
    for kind in ("exclude", "include"):
        raw = table.get(kind, [])
        if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
            problems.append(((kind,), "expected a list of tables"))
            raw = []
        entries[kind] = [_flatten(e, stop=set(axes)) for e in raw]
    for i, entry in enumerate(entries["exclude"]):
        for key in entry:
            if key not in axes:
                problems.append((("exclude", i, key), f"not a matrix axis (axes: {', '.join(axes) or 'none'})"))
    return Matrix(axes, entries["exclude"], entries["include"], problems)


def expand(matrix: Matrix) -> list[Expanded]:
    """All combinations, in order: product minus excludes, then includes."""
    combos: list[Expanded] = []
    if matrix.axes:
        keys = list(matrix.axes)
        for picks in itertools.product(*(list(enumerate(matrix.axes[k])) for k in keys)):
            values = {k: v for k, (_, v) in zip(keys, picks)}
            origin = {k: (k, i) for k, (i, _) in zip(keys, picks)}
            if not any(matches(e, values) for e in matrix.exclude):
                combos.append(Expanded(values, origin))
    originals = len(combos)
    for j, entry in enumerate(matrix.include):
        fits = [
            c for c in combos[:originals]
            if all(same(c.values[k], v) for k, v in entry.items() if k in matrix.axes)
        ]
        where = {k: ("include", j, k) for k in entry}
        for c in fits:
            c.values.update(entry)
            c.origin.update(where)
        if not fits:
            combos.append(Expanded(dict(entry), dict(where)))
    return combos or [Expanded({}, {})]


def unmatched_excludes(matrix: Matrix) -> list[int]:
    """Indices of exclude entries that match no combination of the product (usually a typo)."""
    if not matrix.axes:
        return list(range(len(matrix.exclude)))
    keys = list(matrix.axes)
    combos = [dict(zip(keys, p)) for p in itertools.product(*(matrix.axes[k] for k in keys))]
    return [i for i, e in enumerate(matrix.exclude) if not any(matches(e, c) for c in combos)]


def matches(entry: Mapping[str, Any], combo: Mapping[str, Any]) -> bool:
    return all(k in combo and same(combo[k], v) for k, v in entry.items())


def same(a: Any, b: Any) -> bool:
    """Equality that keeps ``true`` apart from ``1`` (TOML types are distinct)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _flatten(table: Mapping[str, Any], prefix: str = "", stop: set[str] | None = None) -> Combo:
    out: Combo = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and (stop is None or full not in stop):
            out.update(_flatten(value, f"{full}.", stop))
        else:
            out[full] = value
    return out
