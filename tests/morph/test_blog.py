"""The blog's method reproduces its notebooks' numbers exactly (blog-code-facts §6; Strong_Reg notebook)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from morph.blog import (
    alive_count, alive_fractions, blog_base_widths, blog_carry_over, blog_convs, blog_norms, blog_widths,
    gamma_penalty, group_lasso, group_lasso_penalty,
)
from morph.errors import MorphError
from morph.models import UNet, blog_unet

# Strong_Reg, printed by new_layers_in_percentage (named-parameter order conv0_0 … conv4_1 | conv5_0 … conv8_1)
IT1 = [0.90625, 0, 0.54825846, 0, 0.51427205, 0, 0.47364892, 0, 0.42356025, 0,
       0, 0.39509922, 0, 0.47196282, 0, 0.51108805, 0, 0.59285482]
IT2 = [0.95759898, 0, 0.89638889, 0, 0.87949595, 0, 0.86112257, 0, 0.69787598, 0,
       0.44437638, 0, 0.67850749, 0, 0, 0.6397397, 0, 0.74091221]
# The main (low-reg) run's vector, kept in Strong_Reg's "#If you restart the notebook" cell
MAIN = [0.97164352, 0.84209527, 0.94369846, 0.8119439, 0.8119439, 0.8119439, 0.53450436, 0.53450436, 0.46765624,
        0.46765624, 0.46765624, 0.45313729, 0.45313729, 0.64304606, 0.00150892, 0.33949788, 0.3370497, 0.96590169]
BLOG_ORDER = [f"enc{l}.{i}" for l in range(5) for i in range(2)] + [f"dec{l}.{i}" for l in (3, 2, 1, 0) for i in (0, 1)]


def n_params(widths: dict[str, int]) -> int:
    return sum(p.numel() for p in UNet(widths).parameters())


def in_blog_order(widths: dict[str, int]) -> list[int]:
    return [widths[k] for k in BLOG_ORDER]


@pytest.fixture(scope="module")
def measured_unet() -> nn.Module:
    """A base-64 U-Net whose convs keep exactly the weights behind IT1's fractions (|w| = 1, rest 0)."""
    model = blog_unet(64)
    with torch.no_grad():
        for (_, conv), f in zip(blog_convs(model), IT1):
            conv.weight.zero_()
            conv.weight.view(-1)[: round(f * conv.weight.numel())] = 1.0
    return model


def test_measured_fractions_and_shrunk1_widths(measured_unet: nn.Module) -> None:
    fac = alive_fractions(measured_unet, threshold=1e-3)
    assert [round(f, 8) for f in fac] == IT1
    assert 64 * fac[0] < 58  # n/(numel + 1e-10) truncates: 57, not 58
    w = blog_widths(fac, symmetry_level=1, min_fac=0.1, index_shift_bug=True)
    assert in_blog_order(w) == [57, 6, 70, 12, 131, 25, 242, 51, 102, 607, 216, 51, 25, 101, 12, 60, 6, 32]
    assert [w[f"up{l}"] for l in range(4)] == [6, 12, 25, 51]
    assert n_params(w) == 1_312_768


def test_expanded1_from_the_typed_temp_vector() -> None:
    # ExpUNet got the hand-typed `temp` list (0.90625 exactly), hence 145 although shrunk1 had 57
    w = blog_widths(IT1, symmetry_level=1, min_fac=0.1, exp=2.5, index_shift_bug=True)
    assert in_blog_order(w) == [145, 16, 175, 32, 329, 64, 606, 128, 256, 1517, 542, 128, 64, 252, 32, 151, 16, 81]
    assert n_params(w) == 8_257_439


def test_iteration2_carry_over_and_shrunk2() -> None:
    fac = blog_carry_over([max(f, 0.1) for f in IT1], IT2, 1.425)
    assert [round(f, 8) for f in fac[:3]] == [1.22692369, 0.0, 0.70030382]
    w = blog_widths(fac, symmetry_level=1, min_fac=0.1, index_shift_bug=True)
    assert in_blog_order(w) == [78, 6, 89, 12, 164, 25, 297, 51, 102, 640, 215, 51, 25, 25, 12, 12, 6, 29]
    assert n_params(w) == 1_374_655
    assert n_params(blog_widths(IT2, symmetry_level=1, min_fac=0.1, exp=2.5, index_shift_bug=True)) > 0


@pytest.mark.parametrize("bug, exp, min_fac, params", [
    (True, 1.425, 0.25, 19_614_336),  # the main run's expanded model: needs the index shift
    (True, 1.0, 0.25, 9_654_197),
    (True, 1.0, 0.1, 9_642_737),
    (False, 1.425, 0.25, 17_024_084),  # what the intended mapping would have built
])
def test_main_run(bug: bool, exp: float, min_fac: float, params: int) -> None:
    assert n_params(blog_widths(MAIN, symmetry_level=1, min_fac=min_fac, exp=exp, index_shift_bug=bug)) == params


def test_index_shift_moves_fractions_between_blocks() -> None:
    fac = [i / 100 + 0.1 for i in range(18)]
    right = blog_widths(fac, symmetry_level=0)
    shifted = blog_widths(fac, symmetry_level=0, index_shift_bug=True)
    assert right["enc4.1"] == int(1024 * fac[9]) and shifted["enc4.1"] == int(1024 * fac[17])
    assert right["dec3.0"] == int(512 * fac[10]) and shifted["dec3.0"] == int(512 * fac[8])


def test_symmetry_levels_follow_make_symmetry() -> None:
    fac = [0.5, 0.1, 0.3, 0.2, 0.4, 0.6, 0.7, 0.8, 0.2, 0.9, 0.1, 0.3, 0.5, 0.2, 0.6, 0.4, 0.25, 0.05]
    l2 = blog_widths(fac, symmetry_level=2)
    assert l2["enc0.0"] == l2["enc0.1"] == 32 and l2["enc4.0"] == l2["enc4.1"] == int(1024 * 0.9)
    l3 = blog_widths(fac, symmetry_level=3, min_fac=0.55)
    # named order: enc0 = (.5, .1), dec0 = the last two (.25, .05); enc1 = (.3, .2), dec1 = (.6, .4)
    assert l3["enc0.0"] == l3["enc0.1"] == l3["dec0.0"] == l3["dec0.1"] == l3["up0"] == int(64 * 0.55)
    assert l3["enc1.0"] == l3["dec1.1"] == int(128 * 0.6)
    assert blog_widths(fac, symmetry_level=0, min_fac=0.3) == blog_widths(fac, symmetry_level=1, min_fac=0.3)
    with pytest.raises(MorphError, match="expected 18 fractions"):
        blog_widths(fac[:5])
    with pytest.raises(MorphError, match="truncates to 0"):
        blog_widths([0.0] * 18)


def test_dead_layers_false_copies_the_previous_fraction(measured_unet: nn.Module) -> None:
    fac = alive_fractions(measured_unet, threshold=1e-3, dead_layers=False)
    assert fac[1] == fac[0] and fac[10] == fac[9] == fac[8]


def test_regularizers_follow_the_notebook_formulas() -> None:
    torch.manual_seed(0)
    model = blog_unet(4)
    convs = [c.weight for _, c in blog_convs(model)]
    assert len(convs) == 18 and len(blog_norms(model)) == 18
    assert blog_base_widths() == [64, 64, 128, 128, 256, 256, 512, 512, 512, 512, 256, 256, 128, 128, 64, 64,
                                  1024, 1024]
    thr = 1e-2
    want = 9 * group_lasso(convs[0]) * 3
    for prev, cur in zip(convs, convs[1:]):
        want = want + 9 * group_lasso(prev) * (cur.abs() > thr).sum() + 9 * group_lasso(cur) * (prev.abs() > thr).sum()
    got = group_lasso_penalty(model, thr)
    assert torch.allclose(got, want)
    got.backward()
    assert convs[0].grad is not None and alive_count(convs[0], thr).requires_grad is False
    w = convs[1].detach()
    assert torch.allclose(group_lasso(w), w.numel() ** 0.5 * w.norm())
    gammas = [bn.weight for _, bn in blog_norms(model)]
    want_g = 9 * gammas[0].abs().sum() * 3 + sum(
        9 * p.abs().sum() * (c.abs() > 1e-4).sum() + 9 * c.abs().sum() * (p.abs() > 0.5).sum()
        for p, c in zip(gammas, gammas[1:]))
    assert torch.allclose(gamma_penalty(model, threshold=0.5), want_g)
