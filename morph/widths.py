"""New widths per channel group from alive counts (the MorphNet shrink step, morphnet-facts §4).

MorphNet's exporter takes a group's alive count as its new width, with no floor and no rounding. A group
that dies entirely removes a whole path, which our rebuilders cannot express, so every group keeps a
floor. Rounding rules, in order:

1. ``alive`` is rounded to the nearest integer (sources may report fractional soft counts).
2. Floor: ``max(min_width, ceil(min_fraction · seed))``, so no group ever reaches 0.
3. ``multiple``: round *up* to a multiple (e.g. 8 for oneDNN-friendly channel counts), but never above the
   seed width: shrinking must not grow a layer, so a seed width below the next multiple stays as it is.
4. ``divisor`` (hardware-friendly widths, e.g. 8 or 16): every width becomes the multiple of ``divisor``
   nearest to it, within [floor rounded up, seed rounded down] (:func:`round_to_divisor`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from morph.errors import MorphError
from morph.graph import ChannelGraph


def derive_widths(
    alive: Mapping[str, float],
    seed_widths: Mapping[str, int],
    min_fraction: float = 0.1,
    min_width: int = 1,
    multiple: int | None = None,
    divisor: int = 1,
) -> dict[str, int]:
    """Width per group name from its alive count (missing names: the group is fully alive).

    Args:
        alive: alive channels per group name.
        seed_widths: the widths the regularised model was trained at.
        min_fraction: floor as a fraction of the seed width (the blog's ``min_fac``).
        min_width: absolute floor, at least 1.
        multiple: round up to this multiple, capped at the seed width.
        divisor: make every width a multiple of this, never above the seed width (1: no rounding).

    Raises:
        MorphError: unknown names, negative or over-seed alive counts, bad floors.
    """
    if not 0.0 <= min_fraction <= 1.0:
        raise MorphError(f"min_fraction must be in [0, 1], got {min_fraction}")
    if min_width < 1:
        raise MorphError(f"min_width must be ≥ 1, got {min_width}")
    if (multiple is not None and multiple < 1) or divisor < 1:
        raise MorphError(f"multiple and divisor must be ≥ 1, got {multiple} and {divisor}")
    unknown = sorted(set(alive) - set(seed_widths))
    if unknown:
        raise MorphError(f"alive counts for unknown groups: {unknown}")
    out: dict[str, int] = {}
    for name, seed in seed_widths.items():
        a = round(alive.get(name, seed))
        if a < 0 or a > seed:
            raise MorphError(f"group '{name}': alive count {a} outside [0, {seed}]")
        floor = width_floor(seed, min_fraction, min_width)
        w = max(a, floor)
        if multiple is not None:
            w = min(-(-w // multiple) * multiple, max(seed, w))
        out[name] = round_to_divisor(w, divisor, low=floor, high=seed)
    return out


def round_to_divisor(width: int, divisor: int, low: int = 1, high: int | None = None) -> int:
    """The multiple of ``divisor`` nearest to ``width`` (halves round up) within [low, high], both rounded inward
    to multiples (``low`` up, at least one ``divisor``; ``high`` down).

    When the range holds no multiple, the largest multiple ≤ ``high`` wins; when even ``divisor`` exceeds
    ``high``, ``width`` is returned unchanged (capped at ``high``): no multiple fits without exceeding it.
    """
    if divisor == 1:
        return width
    lo = max(divisor, -(-low // divisor) * divisor)
    nearest = (width + divisor // 2) // divisor * divisor
    if high is None:
        return max(lo, nearest)
    hi = high // divisor * divisor
    if hi < divisor:
        return min(width, high)
    return hi if lo > hi else min(max(lo, nearest), hi)


def width_floor(seed: int, min_fraction: float = 0.1, min_width: int = 1) -> int:
    """The smallest width a group of seed width ``seed`` may get: ``max(min_width, ceil(min_fraction · seed))``.
    Shrinking applies it, and expanding keeps it when the multiplier is below 1."""
    return max(min_width, math.ceil(min_fraction * seed - 1e-9))


def group_widths(graph: ChannelGraph) -> dict[str, int]:
    """Current width per group name (the seed widths of a traced model)."""
    return {g.name: g.width for g in graph.groups}


def names_to_ids(graph: ChannelGraph, widths: Mapping[str, float]) -> dict[int, float]:
    """Re-key a name → value map by group id (for ``graph_cost``); unknown names are an error."""
    ids = {g.name: g.id for g in graph.groups}
    unknown = sorted(set(widths) - set(ids))
    if unknown:
        raise MorphError(f"no channel groups named {unknown}")
    return {ids[n]: v for n, v in widths.items()}


def ids_to_names(graph: ChannelGraph, values: Mapping[int, float]) -> dict[str, float]:
    """Re-key a group id → value map (e.g. ``alive_widths()``) by group name."""
    return {graph.groups[i].name: v for i, v in values.items()}
