"""segmentation-models-pytorch architectures with any installed encoder, offline (``encoder_weights=None``)."""

from __future__ import annotations

from typing import Any

from torch import nn

from morph.errors import MorphError

SMP_ARCHS = ("unet", "unetplusplus", "fpn", "deeplabv3plus", "linknet", "deeplabv3", "pspnet", "pan", "manet")


def smp_model(
    arch: str, encoder: str = "resnet18", *, in_channels: int = 3, classes: int = 1, **kwargs: Any
) -> nn.Module:
    """Build ``smp.create_model(arch, encoder)`` with random weights.

    Pretrained weights need a download, which this tool never does behind the user's back;
    pass ``encoder_weights`` explicitly in ``kwargs`` to ask for them.
    """
    import segmentation_models_pytorch as smp

    arch_key = arch.lower().replace("_", "").replace("-", "")
    if arch_key not in SMP_ARCHS:
        raise MorphError(f"unknown smp architecture '{arch}' (known: {', '.join(SMP_ARCHS)})")
    encoders = set(smp.encoders.get_encoder_names())
    if encoder not in encoders and not encoder.startswith("tu-"):
        from morph.registry import did_you_mean

        raise MorphError(f"unknown smp encoder '{encoder}'{did_you_mean(encoder, encoders)}")
    kwargs.setdefault("encoder_weights", None)
    return smp.create_model(arch_key, encoder_name=encoder, in_channels=in_channels, classes=classes, **kwargs)
