"""Models built from width lists, and a registry so suites and the CLI can name them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from morph.registry import Registry
from morph.models.cifar_cnn import CNN_LAYERS, CifarCNN, blog_cifar_cnn, cifar_cnn_widths
from morph.models.smp_factory import SMP_ARCHS, smp_model
from morph.models.unet import UNet, blog_encoder_decoder, blog_unet, blog_unet_one_conv, unet_layer_names, unet_widths

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODELS.register("unet")(blog_unet)
MODELS.register("unet_one_conv")(blog_unet_one_conv)
MODELS.register("encoder_decoder")(blog_encoder_decoder)
MODELS.register("cifar_cnn")(blog_cifar_cnn)
for _arch in SMP_ARCHS:
    MODELS.register(f"smp_{_arch}")(
        lambda encoder="resnet18", _arch=_arch, **kw: smp_model(_arch, encoder, **kw)  # type: ignore[misc]
    )


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model: ``create_model("unet", base=16)``, ``create_model("smp_fpn", encoder="resnet18")``."""
    return MODELS.get(name)(**kwargs)


def model_names() -> list[str]:
    return MODELS.names()


__all__ = [
    "CNN_LAYERS", "CifarCNN", "MODELS", "SMP_ARCHS", "UNet", "blog_cifar_cnn", "blog_encoder_decoder", "blog_unet",
    "blog_unet_one_conv", "cifar_cnn_widths", "create_model", "model_names", "smp_model", "unet_layer_names",
    "unet_widths",
]
