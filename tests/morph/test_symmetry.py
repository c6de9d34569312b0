"""Symmetry levels as tie sets on U-Net width keys, and max-within-tie application."""

from __future__ import annotations

import pytest

from morph.errors import MorphError
from morph.models import UNet, blog_cifar_cnn, blog_encoder_decoder, blog_unet, blog_unet_one_conv, unet_layer_names
from morph.symmetry import apply_ties, symmetry_ties, tie_partition


def _parts(model: UNet, level: int) -> set[frozenset[str]]:
    return {frozenset(p) for p in tie_partition(list(model.widths), symmetry_ties(model, level)) if len(p) > 1}


def test_levels_on_the_blog_unet() -> None:
    m = blog_unet(16)
    assert symmetry_ties(m, 0) == []
    assert _parts(m, 1) == {frozenset({f"up{l}", f"enc{l}.1"}) for l in range(4)}
    l2 = _parts(m, 2)
    assert frozenset({"up0", "enc0.0", "enc0.1"}) in l2 and frozenset({"dec0.0", "dec0.1"}) in l2
    assert frozenset({"enc4.0", "enc4.1"}) in l2 and len(l2) == 9
    # level 3 = make_symmetry's (0,1,14,15) …: one width per depth, bottleneck on its own
    l3 = _parts(m, 3)
    assert l3 == {frozenset({f"enc{l}.0", f"enc{l}.1", f"up{l}", f"dec{l}.0", f"dec{l}.1"}) for l in range(4)} | {
        frozenset({"enc4.0", "enc4.1"})}


def test_one_conv_variant() -> None:
    m = blog_unet_one_conv(16)
    assert _parts(m, 2) == _parts(m, 1) == {frozenset({f"up{l}", f"enc{l}.0"}) for l in range(4)}
    assert _parts(m, 3) == {frozenset({f"enc{l}.0", f"up{l}", f"dec{l}.0"}) for l in range(4)}


def test_encoder_decoder_has_no_skip_ties() -> None:
    m = blog_encoder_decoder(16)
    assert symmetry_ties(m, 1) == []
    assert frozenset({"enc2.0", "enc2.1", "up2", "dec2.0", "dec2.1"}) in _parts(m, 3)


def test_names_work_like_the_model() -> None:
    names = unet_layer_names(4, 2)
    assert symmetry_ties(names, 3) == symmetry_ties(blog_unet(16), 3)


def test_apply_ties_takes_the_max_and_merges_overlaps() -> None:
    w = apply_ties({"a": 1, "b": 5, "c": 2, "d": 9}, [{"a", "b"}, {"b", "c"}])
    assert w == {"a": 5, "b": 5, "c": 5, "d": 9}
    m = blog_unet(16)
    tied = apply_ties({k: i + 1 for i, k in enumerate(m.widths)}, symmetry_ties(m, 3))
    UNet(tied)  # a valid U-Net
    assert tied["enc0.0"] == tied["dec0.1"] == tied["up0"]


@pytest.mark.parametrize("level", [1, 2, 3])
def test_non_unet_is_an_error(level: int) -> None:
    with pytest.raises(MorphError, match="need a U-Net"):
        symmetry_ties(blog_cifar_cnn(), level)
    assert symmetry_ties(blog_cifar_cnn(), 0) == []


def test_bad_level_and_names() -> None:
    with pytest.raises(MorphError, match="0, 1, 2 or 3"):
        symmetry_ties(blog_unet(16), 4)
    with pytest.raises(MorphError, match="U-Net width keys"):
        symmetry_ties(["conv0", "fc0"], 1)
    with pytest.raises(MorphError, match="unknown groups"):
        apply_ties({"a": 1}, [{"a", "zz"}])
