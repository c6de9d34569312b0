"""The blog's method exactly as its notebooks implement it (blog-code-facts §4–§7), to reproduce its tables.

This is *not* MorphNet; :mod:`morph.sources` and :mod:`morph.widths` are. What the blog does instead:

- one group-lasso group per conv layer, ``sqrt(numel)·‖W‖₂``, over the convs whose parameter name holds
  "conv" in registration order: in our :class:`~morph.models.UNet` the encoder convs then the decoder convs
  (transpose convs and the 1×1 head are never regularised);
- a bilinear chain cost ``k_h·k_w·(GL(prev)·alive(cur) + GL(cur)·alive(prev))``, the first layer counting
  "3 input channels always alive", where ``alive`` counts *individual weights* above a threshold (a constant,
  no gradient). The γ variant does the same over BN weights with L1 and a fixed 9;
- width = ``int(base · fraction of weights above threshold)``, the fraction computed as
  ``1 − (1 − n_alive/(numel + 1e-10))``, which sits just below exact ratios (64·0.90625 → 57, not 58);
- ``min_fac`` floors fractions, symmetry levels 1–3 tie them, a hand-picked ``exp`` expands:
  ``int(base · fraction · exp)``;
- the index shift (bug 1 of §7): fractions come in named-parameter order [enc 0–9 | dec 10–17] but are read
  in the width list's order [enc 0–7 | dec 8–15 | bottleneck 16–17], so each decoder block gets the previous
  block's fractions and the bottleneck gets the last block's. Only with ``index_shift_bug=True``; the
  notebooks' numbers (1,312,768; 8,257,439; 19,614,336 parameters) all need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from morph.errors import MorphError

ALIVE_EPS = 1e-10
"""The notebooks' ``numel + 1e-10`` denominator, which truncates exact ratios one channel down."""


def blog_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The convs the blog regularises and resizes, in its order (U-Net: encoder then decoder, no up/head)."""
    from morph.models.unet import UNet

    if isinstance(model, UNet):
        named = {id(m): n for n, m in model.named_modules()}
        mods = model.layer_modules()
        keys = [k for k in mods if not k.startswith("up")]
        return [(named[id(mods[k])], mods[k]) for k in keys]  # type: ignore[misc]
    return [(n[: -len(".weight")], m) for n, m in _named_weights(model) if "conv" in n and isinstance(m, nn.Conv2d)]


def _named_weights(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(f"{n}.weight", m) for n, m in model.named_modules() if isinstance(getattr(m, "weight", None), nn.Parameter)]


def blog_norms(model: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    """BatchNorms in registration order (U-Net: encoder then decoder, as the blog's bn0_0 … bn8_1)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]


def group_lasso(w: torch.Tensor) -> torch.Tensor:
    """The blog's whole-layer group lasso: ``sqrt(numel) · ‖W‖₂``."""
    return math.sqrt(w.numel()) * torch.sqrt((w * w).sum())


def alive_count(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """Individual weights with ``|w| > threshold``, as a float constant (no gradient, as the blog's ``where``)."""
    return (w.detach().abs() > threshold).sum().to(w.dtype)


def group_lasso_penalty(model: nn.Module, threshold: float = 1e-4) -> torch.Tensor:
    """The blog's ``group_lasso_regularizer`` (multiply by λ yourself: 1e-10 low, 1e-3 strong)."""
    convs = blog_convs(model)
    if not convs:
        raise MorphError(f"{type(model).__name__} has no convs named 'conv' for the blog's regularizer")
    cost = torch.zeros((), dtype=convs[0][1].weight.dtype, device=convs[0][1].weight.device)
    prev: torch.Tensor | None = None
    for _, conv in convs:
        w = conv.weight
        k = w.shape[2] * w.shape[3]
        if prev is None:
            cost = cost + k * group_lasso(w) * 3  # "3 input channels always alive"
        else:
            cost = cost + k * group_lasso(prev) * alive_count(w, threshold) + k * group_lasso(w) * alive_count(
                prev, threshold)
        prev = w
    return cost


def gamma_penalty(model: nn.Module, threshold: float = 1e-3, input_threshold: float = 1e-4) -> torch.Tensor:
    """The blog's ``gamma_regularizer``: ``9·(L1(γ_prev)·alive(γ, 1e-4) + L1(γ)·alive(γ_prev, thr))``,
    the first BN ``9·L1(γ)·3``; the input term's threshold is the notebooks' default, not the passed one."""
    norms = blog_norms(model)
    if not norms:
        raise MorphError(f"{type(model).__name__} has no BatchNorm2d for the blog's gamma regularizer")
    cost = torch.zeros((), dtype=norms[0][1].weight.dtype, device=norms[0][1].weight.device)
    prev: torch.Tensor | None = None
    for _, bn in norms:
        g = bn.weight
        if prev is None:
            cost = cost + 9 * g.abs().sum() * 3
        else:
            cost = cost + 9 * prev.abs().sum() * alive_count(g, input_threshold) + 9 * g.abs().sum() * alive_count(
                prev, threshold)
        prev = g
    return cost


def alive_fractions(model: nn.Module, threshold: float = 1e-4, dead_layers: bool = True) -> list[float]:
    """``new_layers_in_percentage``: per blog conv, the fraction of weights with ``|w| > threshold``.

    Computed as the notebooks do (``1 − waste``, ``waste = 1 − n/(numel + 1e-10)``, in float64); a layer whose
    kept weights have no positive maximum counts as fully dead (their ``sparsified.max() == 0`` test). With
    ``dead_layers=False`` a zero fraction copies the previous layer's (the main run's setting).
    """
    out: list[float] = []
    for _, conv in blog_convs(model):
        w = conv.weight.detach()
        kept = torch.where(w.abs() > threshold, w, torch.zeros((), dtype=w.dtype))
        waste = 1.0 if float(kept.max()) == 0 else 1 - (int((kept != 0).sum()) / (w.numel() + ALIVE_EPS))
        out.append(1 - waste)
    if not dead_layers:
        for i in range(1, len(out)):
            if out[i] == 0:
                out[i] = out[i - 1]
    return out


def blog_base_widths(base: int = 64, depth: int = 4, convs_per_level: int = 2) -> list[int]:
    """The blog's ``red`` list: encoder levels, decoder levels (deep to shallow), then the bottleneck."""
    c = convs_per_level
    enc = [base * 2**l for l in range(depth) for _ in range(c)]
    dec = [base * 2**l for l in reversed(range(depth)) for _ in range(c)]
    return enc + dec + [base * 2**depth] * c


def _symmetrise(fac: list[float], level: int, min_fac: float, depth: int, c: int) -> list[float]:
    """ShrinkedUNet's symmetry step on fractions in ``red`` order (level 0 behaves as level 1: the blog's
    transpose conv is wired to its skip's width, so there is nothing to untie)."""
    blocks = [list(range(b * c, b * c + c)) for b in range(2 * depth + 1)]  # enc…, dec (deep→shallow), bottom
    if level in (0, 1):
        return [max(f, min_fac) for f in fac]
    if level == 2:
        ties = blocks
    elif level == 3:  # make_symmetry: encoder level l with decoder level l, and the bottleneck
        ties = [blocks[l] + blocks[2 * depth - 1 - l] for l in range(depth)] + [blocks[2 * depth]]
    else:
        raise MorphError(f"symmetry level must be 0, 1, 2 or 3, got {level}")
    out = list(fac)
    for tie in ties:
        top = max([fac[i] for i in tie] + [min_fac])
        for i in tie:
            out[i] = top
    return out


def blog_widths(
    fractions: Sequence[float],
    *,
    symmetry_level: int = 1,
    min_fac: float = 0.0,
    exp: float = 1.0,
    index_shift_bug: bool = False,
    base: int = 64,
    depth: int = 4,
    convs_per_level: int = 2,
) -> dict[str, int]:
    """U-Net width keys from alive fractions, as ``ShrinkedUNet`` (``exp=1``) / ``ExpUNet`` compute them.

    Args:
        fractions: one per blog conv in named-parameter order (``enc0.0 … enc{depth}.*, dec{depth-1}.* … dec0.*``).
        symmetry_level: 0–3 (see :func:`_symmetrise`); ``min_fac`` applies at every level.
        min_fac: floor on each fraction, before ``exp``.
        exp: the hand-picked expansion factor: width = ``int(base · fraction · exp)``.
        index_shift_bug: read the fractions in the width list's order, as the notebooks did.

    Returns:
        widths for :class:`~morph.models.UNet`, ``up{l}`` equal to its skip (the blog's wiring).
    """
    c = convs_per_level
    n = (2 * depth + 1) * c
    if len(fractions) != n:
        raise MorphError(f"expected {n} fractions (depth {depth}, {c} convs per level), got {len(fractions)}")
    fac = [float(f) for f in fractions]  # the notebooks mutate the caller's list here; we copy
    if not index_shift_bug:  # named order [enc, bottleneck, dec] → red order [enc, dec, bottleneck]
        fac = fac[: depth * c] + fac[(depth + 1) * c:] + fac[depth * c: (depth + 1) * c]
    fac = _symmetrise(fac, symmetry_level, min_fac, depth, c)
    red = [int(b * f * exp) for b, f in zip(blog_base_widths(base, depth, c), fac)]
    if min(red) < 1:
        raise MorphError(f"a width truncates to 0 ({red}); raise min_fac")
    keys = ([f"enc{l}.{i}" for l in range(depth) for i in range(c)]
            + [f"dec{l}.{i}" for l in reversed(range(depth)) for i in range(c)]
            + [f"enc{depth}.{i}" for i in range(c)])
    w = dict(zip(keys, red))
    for l in range(depth):
        w[f"up{l}"] = w[f"enc{l}.{c - 1}"]
    from morph.models.unet import unet_layer_names

    return {k: w[k] for k in unet_layer_names(depth, c)}


def blog_carry_over(
    previous_fractions: Sequence[float], fractions: Sequence[float], exp: float, *, base: int = 64,
    depth: int = 4, convs_per_level: int = 2,
) -> list[float]:
    """Iteration-2 bookkeeping (Strong_Reg cells 108–109): fractions of the expanded model re-expressed
    against the *original* widths, ``int(base · prev · exp) / base · fraction`` per entry (``red`` order
    positions, like everything in the notebooks)."""
    red = blog_base_widths(base, depth, convs_per_level)
    if not len(previous_fractions) == len(fractions) == len(red):
        raise MorphError(f"expected {len(red)} fractions, got {len(previous_fractions)} and {len(fractions)}")
    return [int(b * p * exp) / b * f for b, p, f in zip(red, previous_fractions, fractions)]
