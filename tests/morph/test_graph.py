"""The channel graph traced from stub nets, the blog's nets and smp models."""

from __future__ import annotations

import pytest
import torch
from nets import Chain, Concat, Depthwise, Residual, Shuffle, example
from torch import nn

from morph.errors import UnsupportedLayerError
from morph.graph import ChannelGraph, FixedInput
from morph.groups import build_graph
from morph.models import blog_cifar_cnn, blog_encoder_decoder, blog_unet, blog_unet_one_conv, smp_model

torch.set_num_threads(1)


def _layer(g: ChannelGraph, name: str):
    return next(l for l in g.layers if l.name == name)


def _widths(g: ChannelGraph, in_groups) -> int:
    return sum(x.channels if isinstance(x, FixedInput) else g.groups[x].width for x in in_groups)


def check_params(model: nn.Module, g: ChannelGraph) -> None:
    """Every weight in exactly one layer; k·in·out/groups + biases + norms = the model's parameter count."""
    weighted = {n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))}
    names = [l.name for l in g.layers]
    assert len(names) == len(set(names))
    assert set(names) <= weighted
    structural = 0
    for lay in g.layers:
        m = model.get_submodule(lay.name)
        assert _widths(g, lay.in_groups) == lay.in_channels
        assert lay.out_group is None or g.groups[lay.out_group].width == lay.out_channels
        if lay.depthwise and lay.out_group is not None:
            assert lay.in_groups == (lay.out_group,)
        structural += lay.kernel[0] * lay.kernel[1] * lay.in_channels * lay.out_channels // lay.groups
        structural += lay.out_channels if m.bias is not None else 0
        assert m.weight.numel() == lay.kernel[0] * lay.kernel[1] * lay.in_channels * lay.out_channels // lay.groups
    norms = [n for grp in g.groups for n in grp.norms]
    assert len(norms) == len(set(norms))
    structural += sum(sum(p.numel() for p in model.get_submodule(n).parameters()) for n in norms)
    unused = sum(p.numel() for n in weighted - set(names) for p in model.get_submodule(n).parameters())
    assert structural + g.constant_params == sum(p.numel() for p in model.parameters())
    assert g.constant_params >= unused


def test_chain() -> None:
    g = build_graph(Chain(), example())
    assert [(grp.name, grp.width, grp.norms) for grp in g.groups] == [("a.0", 4, ("a.1",)), ("b.0", 6, ("b.1",))]
    a, b, head = g.layers
    assert a.in_groups == (FixedInput(3),) and a.out_group == 0 and a.out_hw == (8, 8)
    assert b.in_groups == (0,) and head.in_groups == (1,) and head.out_group is None


def test_concat_keeps_branches_apart() -> None:
    g = build_graph(Concat(), example())
    ids = {grp.name: grp.id for grp in g.groups}
    assert _layer(g, "c.0").in_groups == (ids["a.0"], ids["b.0"])
    assert _layer(g, "d.0").in_groups == (ids["a.0"], ids["b.0"])
    assert _layer(g, "head").in_groups == (ids["c.0"], ids["d.0"])


def test_depthwise_joins_producer() -> None:
    g = build_graph(Depthwise(), example())
    grp = g.group_of("a.0")
    assert grp.producers == ("a.0", "dw.0") and grp.norms == ("a.1", "dw.1")
    dw = _layer(g, "dw.0")
    assert dw.depthwise and dw.in_groups == (grp.id,) and dw.out_group == grp.id


def test_residual_add_ties() -> None:
    g = build_graph(Residual(), example())
    assert g.group_of("stem.0") is g.group_of("c1.0")
    assert g.group_of("stem.0").norms == ("stem.1", "c1.1")
    assert _layer(g, "c1.0").in_groups == (g.group_of("stem.0").id,)


def test_fixed_layer() -> None:
    g = build_graph(Chain(), example(), fixed=["b.0"])
    assert [grp.name for grp in g.groups] == ["a.0"]
    assert _layer(g, "b.0").out_group is None and _layer(g, "head").in_groups == (FixedInput(6),)


def test_channel_shuffle_is_refused() -> None:
    with pytest.raises(UnsupportedLayerError, match="Backward0"):
        build_graph(Shuffle(), example())


@pytest.mark.parametrize("make", [lambda: blog_unet(16), lambda: blog_unet_one_conv(8),
                                  lambda: blog_encoder_decoder(8)])
def test_blog_unets(make) -> None:
    model = make()
    g = build_graph(model, torch.randn(1, 3, 64, 64))
    check_params(model, g)
    assert g.constant_params == 0
    assert sorted(grp.name for grp in g.groups) == sorted(model.widths)
    assert all(grp.width == model.widths[grp.name] for grp in g.groups)
    if model.skips:
        ids = {grp.name: grp.id for grp in g.groups}
        dec = model.get_submodule("decoder.0.0.0")
        first = next(l for l in g.layers if model.get_submodule(l.name) is dec)
        assert first.in_groups == (ids["up3"], ids[f"enc3.{model.convs_per_level - 1}"])


def test_cifar_cnn_flatten() -> None:
    model = blog_cifar_cnn()
    g = build_graph(model, torch.randn(1, 3, 32, 32))
    check_params(model, g)
    fc = _layer(g, "classifier.1")
    assert fc.in_groups == (g.group_of("features.15").id,) * 16
    assert [grp.name for grp in g.groups] == ["conv0", "conv1", "conv2", "conv3", "conv4", "fc0"]


SMP = [(a, e) for a in ("unet", "fpn", "deeplabv3plus", "unetplusplus")
       for e in ("resnet18", "resnet34", "mobilenet_v2", "efficientnet-b0")]


@pytest.mark.parametrize(("arch", "encoder"), SMP)
def test_smp(arch: str, encoder: str) -> None:
    model = smp_model(arch, encoder)
    g = build_graph(model, torch.randn(1, 3, 64, 64))
    check_params(model, g)
    if encoder.startswith("resnet"):
        assert g.constant_params == 0
        block = g.group_of("encoder.layer1.0.conv2")
        assert {"encoder.conv1", "encoder.layer1.1.conv2"} <= set(block.producers)
        assert g.group_of("encoder.layer2.0.downsample.0") is g.group_of("encoder.layer2.1.conv2")
    if encoder == "efficientnet-b0":
        # smp keeps the unused _conv_head/_bn1 (1280 channels): the only constant parameters
        assert g.constant_params == 320 * 1280 + 2 * 1280
        dw = g.group_of("encoder._blocks.1._depthwise_conv")
        assert "encoder._blocks.1._expand_conv" in dw.producers
        assert "encoder._blocks.1._se_expand" in dw.producers  # x * sigmoid(se) ties the gate to x
        se = g.group_of("encoder._blocks.1._se_reduce")
        assert se.producers == ("encoder._blocks.1._se_reduce",) and se.norms == ()
    if arch == "unet" and encoder == "resnet18":
        first = next(l for l in g.layers if l.name == "decoder.blocks.0.conv1.0")
        assert first.in_groups == (g.group_of("encoder.layer4.1.conv2").id, g.group_of("encoder.layer3.1.conv2").id)


def test_deeplab_separable_conv_over_concat() -> None:
    model = smp_model("deeplabv3plus", "resnet18")
    g = build_graph(model, torch.randn(1, 3, 64, 64))
    dw = _layer(g, "decoder.block2.0.0")
    aspp, high = g.group_of("decoder.aspp.1.1"), g.group_of("decoder.block1.0")
    assert (aspp.width, high.width) == (256, 48)
    assert dw.depthwise and dw.out_group is None and dw.in_groups == (aspp.id, high.id)
    assert _layer(g, "decoder.block2.0.1").in_groups == (aspp.id, high.id)
