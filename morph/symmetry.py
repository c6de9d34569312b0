"""Symmetry levels for the U-Net family: extra ties between channel groups (blog-code-facts §5).

Structural ties (a conv and its BN, a residual add) are already one channel group in the
:class:`~morph.graph.ChannelGraph`; these ties are a *design choice* on top, applied to widths by taking
the maximum within each tie set, as the blog's code does with its fractions:

- level 0: free, no extra ties.
- level 1: the transpose conv's output equals its skip (``up{l}`` = ``enc{l}.{last}``). The blog's code
  hard-wires this (its up conv's ``out_channels`` *is* the skip width); our U-Net has a separate ``up{l}``
  key, so here it is a tie. The encoder-decoder has no skips, so level 1 adds nothing there.
- level 2: level 1 plus both convs of every block equal (``enc{l}.0`` = ``enc{l}.1``, ``dec{l}.*``,
  bottleneck included); nothing for one-conv blocks.
- level 3: level 2 plus one width per depth: ``enc{l}.*`` = ``dec{l}.*`` = ``up{l}`` (the blog's
  ``make_symmetry`` groups (0,1,14,15), (2,3,12,13), …), and the bottleneck's convs tie. For the
  encoder-decoder ``up{l}`` joins its depth as well (its output lives at depth ``l``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from torch import nn

from morph.errors import MorphError

_ENC = re.compile(r"enc(\d+)\.(\d+)$")
_DEC = re.compile(r"dec(\d+)\.(\d+)$")
_UP = re.compile(r"up(\d+)$")


def _unet_shape(model_or_names: nn.Module | Iterable[str], skips: bool | None) -> tuple[int, int, bool, list[str]]:
    """(depth, convs per level, skips, names) of a U-Net model or of its width keys."""
    if isinstance(model_or_names, nn.Module):
        from morph.models.unet import UNet

        if not isinstance(model_or_names, UNet):
            raise MorphError(f"symmetry levels > 0 need a U-Net, got {type(model_or_names).__name__}")
        m = model_or_names
        return m.depth, m.convs_per_level, m.skips if skips is None else skips, list(m.widths)
    names = list(model_or_names)
    enc = [_ENC.match(n) for n in names]
    bad = [n for n, e in zip(names, enc) if not (e or _DEC.match(n) or _UP.match(n))]
    if bad or not any(enc):
        raise MorphError(f"symmetry levels > 0 need U-Net width keys (enc{{l}}.{{i}}, up{{l}}, dec{{l}}.{{i}}), "
                         f"got {bad[:3] or names[:3]}")
    depth = max(int(e.group(1)) for e in enc if e)
    convs = max(int(e.group(2)) for e in enc if e) + 1
    return depth, convs, True if skips is None else skips, names


def symmetry_ties(
    model_or_names: nn.Module | Iterable[str], level: int, *, skips: bool | None = None
) -> list[set[str]]:
    """Tie sets (names whose widths must be equal) for a symmetry ``level`` in 0–3.

    Args:
        model_or_names: a :class:`~morph.models.UNet` or its width keys.
        level: 0 (free) … 3 (one width per depth); see the module docstring.
        skips: override the model's (or, for names, the default True) skip setting.

    Raises:
        MorphError: a level outside 0–3, or level > 0 for something that is not a U-Net.
    """
    if level not in (0, 1, 2, 3):
        raise MorphError(f"symmetry level must be 0, 1, 2 or 3, got {level}")
    if level == 0:
        return []
    depth, convs, has_skips, names = _unet_shape(model_or_names, skips)
    known = set(names)
    last = convs - 1
    ties: list[set[str]] = []
    if has_skips:
        ties += [{f"up{l}", f"enc{l}.{last}"} for l in range(depth)]
    if level >= 2 and convs > 1:
        blocks = [f"enc{l}" for l in range(depth + 1)] + [f"dec{l}" for l in range(depth)]
        ties += [{f"{b}.{i}" for i in range(convs)} for b in blocks]
    if level >= 3:
        for l in range(depth):
            ties.append({f"enc{l}.{i}" for i in range(convs)} | {f"dec{l}.{i}" for i in range(convs)} | {f"up{l}"})
        if convs > 1:
            ties.append({f"enc{depth}.{i}" for i in range(convs)})
    missing = sorted({n for t in ties for n in t} - known)
    if missing:
        raise MorphError(f"symmetry ties name layers the model lacks: {missing}")
    return [t for t in ties if len(t) > 1]


def tie_partition(names: Sequence[str], ties: Iterable[Iterable[str]]) -> list[tuple[str, ...]]:
    """All ``names`` split into tie sets (union-find; singletons included), in first-appearance order."""
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for tie in ties:
        tie = list(tie)
        unknown = [n for n in tie if n not in parent]
        if unknown:
            raise MorphError(f"tie names unknown groups: {unknown}")
        for n in tie[1:]:
            parent[find(n)] = find(tie[0])
    sets: dict[str, list[str]] = {}
    for n in names:
        sets.setdefault(find(n), []).append(n)
    return [tuple(s) for s in sets.values()]


def apply_ties(widths: Mapping[str, int], ties: Iterable[Iterable[str]]) -> dict[str, int]:
    """Every name in a tie set gets the set's largest width (ties may overlap: they merge)."""
    out = dict(widths)
    for part in tie_partition(list(widths), ties):
        top = max(widths[n] for n in part)
        for n in part:
            out[n] = top
    return out
