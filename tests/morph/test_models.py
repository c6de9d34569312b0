"""Model families: the blog's parameter counts, width-list rebuilding, options and one-line errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from morph.errors import MorphError
from morph.models import (
    CifarCNN, UNet, blog_cifar_cnn, blog_encoder_decoder, blog_unet, blog_unet_one_conv, create_model, model_names,
    smp_model, unet_layer_names, unet_widths,
)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("build,expected", [
    (blog_unet, 31_043_521),             # torchsummary total in the blog's notebooks
    (blog_unet_one_conv, 15_330_625),    # the Table 5 variant
    (blog_encoder_decoder, 33_829_761),  # no skips, up convs keep their width
    (blog_cifar_cnn, 1_505_674),         # MorphCNN
])
def test_blog_parameter_counts(build, expected: int) -> None:
    assert n_params(build()) == expected


def test_unet_count_by_formula_at_base_16() -> None:
    def conv(cin: int, cout: int, k: int = 3) -> int:
        return cin * cout * k * k + cout

    w = [16, 32, 64, 128, 256]
    enc = sum(conv(a, b) + conv(b, b) + 2 * 2 * b for a, b in zip([3, *w[:-1]], w))  # + BN γ, β
    dec = sum(conv(w[l + 1], w[l], 2) + conv(2 * w[l], w[l]) + conv(w[l], w[l]) + 2 * 2 * w[l] for l in range(4))
    assert n_params(blog_unet(16)) == enc + dec + conv(16, 1, 1)


def test_forward_keeps_odd_sizes_with_the_bilinear_fixup() -> None:
    model = blog_unet(4).eval()
    assert model(torch.zeros(1, 3, 100, 100)).shape == (1, 1, 100, 100)  # 100→50→25→12: 24 vs 25
    assert blog_encoder_decoder(4)(torch.zeros(1, 3, 36, 36)).shape == (1, 1, 36, 36)


def test_options_order_classes_channels() -> None:
    model = blog_unet(8, in_channels=1, classes=3, order="bn_relu")
    unit = model.encoder[0][0]
    assert isinstance(unit[1], nn.BatchNorm2d) and isinstance(unit[2], nn.ReLU)
    assert isinstance(blog_unet(8).encoder[0][0][1], nn.ReLU)  # the blog's ReLU → BN
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 3, 32, 32)


def test_rebuild_from_widths() -> None:
    model = blog_unet(8)
    widths = dict(model.widths, **{"enc2.0": 5, "up1": 7, "dec1.0": 3})
    small = model.rebuild(widths)
    assert isinstance(small, UNet) and small.widths == widths
    assert small.layer_modules()["up1"].out_channels == 7
    assert small.layer_modules()["dec1.0"].in_channels == 7 + widths["enc1.1"]
    assert small(torch.zeros(1, 3, 32, 32)).shape == (1, 1, 32, 32)
    assert unet_layer_names(2, 1) == ["enc0.0", "enc1.0", "enc2.0", "up1", "dec1.0", "up0", "dec0.0"]
    assert unet_widths(8, 2, 1, skips=False)["up1"] == 32


def test_cifar_cnn_rebuild() -> None:
    model = blog_cifar_cnn().rebuild({"conv0": 31, "conv1": 54, "conv2": 81, "conv3": 167, "conv4": 162, "fc0": 128})
    assert isinstance(model, CifarCNN) and model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("arch", ["unet", "unetplusplus", "fpn", "deeplabv3plus", "linknet"])
def test_smp_factory_builds_offline(arch: str) -> None:
    model = smp_model(arch, "resnet18", classes=2).eval()  # DeepLab's image pooling needs eval at batch 1
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 64, 64)


def test_registry_and_errors() -> None:
    assert {"unet", "unet_one_conv", "encoder_decoder", "cifar_cnn", "smp_unet", "smp_fpn"} <= set(model_names())
    assert n_params(create_model("unet", base=16)) == n_params(blog_unet(16))
    with pytest.raises(MorphError, match="did you mean 'unet'"):
        create_model("unte")
    with pytest.raises(MorphError, match="did you mean 'resnet18'"):
        smp_model("unet", "resnet19")
    with pytest.raises(MorphError, match="missing"):
        UNet({"enc0.0": 4})
    with pytest.raises(MorphError, match="positive integers"):
        blog_unet(8).rebuild(dict(blog_unet(8).widths, **{"enc0.0": 0}))
