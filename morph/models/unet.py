"""The blog's U-Net family, built from per-layer widths so a shrunk or expanded copy is one call away.

Layer names are the width keys: ``enc{l}.{i}`` (encoder level ``l``, conv ``i``; level ``depth`` is the
bottleneck), ``up{l}`` (transpose conv into decoder level ``l``), ``dec{l}.{i}``; the 1×1 head has a fixed
width (the classes). Defaults follow the blog's code exactly (blog-code-facts §2): 3×3 "same" convs with
bias, ReLU *then* BatchNorm, 2×2 stride-2 transpose convs, a bilinear resize when the up-sampled map and
the skip differ in size (odd sizes after max-pooling), and no BN/ReLU after the transpose conv.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from morph.errors import MorphError

Order = Literal["relu_bn", "bn_relu"]


def unet_layer_names(depth: int = 4, convs_per_level: int = 2, skips: bool = True) -> list[str]:
    """All width keys of a U-Net in forward order (``skips`` does not change the names)."""
    names = [f"enc{l}.{i}" for l in range(depth + 1) for i in range(convs_per_level)]
    for l in reversed(range(depth)):
        names.append(f"up{l}")
        names += [f"dec{l}.{i}" for i in range(convs_per_level)]
    return names


def unet_widths(
    base: float = 64, depth: int = 4, convs_per_level: int = 2, skips: bool = True
) -> dict[str, int]:
    """The classic doubling widths: ``base · 2^level``; the up conv matches the skip (with skips) or keeps
    the incoming width (the blog's encoder-decoder)."""
    widths: dict[str, int] = {}
    for l in range(depth + 1):
        for i in range(convs_per_level):
            widths[f"enc{l}.{i}"] = max(1, int(base * 2**l))
    prev = widths[f"enc{depth}.{convs_per_level - 1}"]
    for l in reversed(range(depth)):
        widths[f"up{l}"] = widths[f"enc{l}.{convs_per_level - 1}"] if skips else prev
        for i in range(convs_per_level):
            widths[f"dec{l}.{i}"] = max(1, int(base * 2**l))
        prev = widths[f"dec{l}.{convs_per_level - 1}"]
    return widths


class ConvUnit(nn.Sequential):
    """3×3 "same" conv with bias, then ReLU and BatchNorm in the chosen order."""

    def __init__(self, cin: int, cout: int, order: Order = "relu_bn") -> None:
        conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=True)
        if order == "relu_bn":
            super().__init__(conv, nn.ReLU(inplace=True), nn.BatchNorm2d(cout))
        elif order == "bn_relu":
            super().__init__(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        else:
            raise MorphError(f"order must be 'relu_bn' or 'bn_relu', got {order!r}")

    @property
    def conv(self) -> nn.Conv2d:
        return self[0]  # type: ignore[return-value]

    @property
    def bn(self) -> nn.BatchNorm2d:
        return next(m for m in self if isinstance(m, nn.BatchNorm2d))  # type: ignore[return-value]


def _blocks(depth: int, convs_per_level: int, removed: frozenset[str]) -> dict[str, list[str]]:
    """Block prefix (``enc{l}``, ``dec{l}``) → the width keys of its convs, without the removed ones."""
    blocks = {f"{side}{l}": [f"{side}{l}.{i}" for i in range(convs_per_level)]
              for side in ("enc", "dec") for l in range(depth + (side == "enc"))}
    convs = {k for keys in blocks.values() for k in keys}
    unknown = sorted(removed - convs)
    if unknown:
        raise MorphError(f"U-Net: only block convs can be removed, not {unknown} (convs: enc<l>.<i>, dec<l>.<i>)")
    out = {p: [k for k in keys if k not in removed] for p, keys in blocks.items()}
    empty = sorted(p for p, keys in out.items() if not keys)
    if empty:
        raise MorphError(f"U-Net: removing {sorted(removed)} leaves block(s) {empty} without a conv")
    return out


class UNet(nn.Module):
    """U-Net (or, with ``skips=False``, the plain encoder-decoder) at arbitrary per-layer widths.

    Args:
        widths: width per layer name (see :func:`unet_layer_names`); missing names are an error.
        in_channels: image channels.
        classes: output channels of the 1×1 head.
        depth: number of pooling steps (the blog: 4).
        convs_per_level: 2 (the blog's main net) or 1 (its Table 5 variant).
        skips: concatenate encoder features into the decoder (U-Net) or not (encoder-decoder).
        order: ``"relu_bn"`` (the blog's code) or ``"bn_relu"`` (the usual order).
        removed: block convs (``enc2.0``) left out, so their block is one conv shorter (layer removal); the
            block's next conv takes its input, and a block's last remaining conv gives its output width.
    """

    def __init__(
        self,
        widths: Mapping[str, int] | None = None,
        *,
        in_channels: int = 3,
        classes: int = 1,
        depth: int = 4,
        convs_per_level: int = 2,
        skips: bool = True,
        order: Order = "relu_bn",
        removed: Iterable[str] = (),
    ) -> None:
        super().__init__()
        if depth < 1 or convs_per_level < 1:
            raise MorphError(f"depth and convs_per_level must be ≥ 1, got {depth} and {convs_per_level}")
        names = unet_layer_names(depth, convs_per_level, skips)
        removed = frozenset(removed)
        self.block_convs = _blocks(depth, convs_per_level, removed)
        kept = [n for n in names if n not in removed]
        widths = dict(widths) if widths is not None else unet_widths(64, depth, convs_per_level, skips)
        missing = [n for n in kept if n not in widths]
        extra = [n for n in widths if n not in names]
        if missing or extra:
            raise MorphError(f"U-Net widths: missing {missing}, unexpected {extra}")
        bad = {n: w for n, w in widths.items() if int(w) != w or w < 1}
        if bad:
            raise MorphError(f"U-Net widths must be positive integers, got {bad}")
        self.widths = {n: int(widths[n]) for n in kept}
        self.config = dict(
            in_channels=in_channels, classes=classes, depth=depth,
            convs_per_level=convs_per_level, skips=skips, order=order, removed=tuple(sorted(removed)),
        )
        self.depth, self.convs_per_level, self.skips = depth, convs_per_level, skips
        w = self.widths

        def block(prefix: str, cin: int) -> nn.Sequential:
            units = []
            for key in self.block_convs[prefix]:
                units.append(ConvUnit(cin, w[key], order))
                cin = w[key]
            return nn.Sequential(*units)

        def out_width(prefix: str) -> int:
            return w[self.block_convs[prefix][-1]]

        self.encoder = nn.ModuleList()
        cin = in_channels
        for l in range(depth + 1):
            self.encoder.append(block(f"enc{l}", cin))
            cin = out_width(f"enc{l}")
        self.pool = nn.MaxPool2d(2, 2)
        self.ups = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for l in reversed(range(depth)):
            self.ups.append(nn.ConvTranspose2d(cin, w[f"up{l}"], kernel_size=2, stride=2))
            dec_in = w[f"up{l}"] + (out_width(f"enc{l}") if skips else 0)
            self.decoder.append(block(f"dec{l}", dec_in))
            cin = out_width(f"dec{l}")
        self.head = nn.Conv2d(cin, classes, kernel_size=1)

    def layer_modules(self) -> dict[str, nn.Module]:
        """Width key → the module whose output channels that width counts."""
        out: dict[str, nn.Module] = {}
        for l, blk in enumerate(self.encoder):
            for key, unit in zip(self.block_convs[f"enc{l}"], blk):
                out[key] = unit.conv
        for k, (up, blk) in enumerate(zip(self.ups, self.decoder)):
            l = self.depth - 1 - k
            out[f"up{l}"] = up
            for key, unit in zip(self.block_convs[f"dec{l}"], blk):
                out[key] = unit.conv
        return {n: out[n] for n in self.widths}

    def rebuild(self, widths: Mapping[str, int], remove: Iterable[str] = ()) -> UNet:
        """A fresh (re-initialised) model of the same family at new widths, without the block convs this
        model lacks and those in ``remove`` (widths given for removed convs are ignored)."""
        config = dict(self.config)
        config["removed"] = tuple(sorted(set(config["removed"]) | set(remove)))  # type: ignore[call-overload]
        return UNet(widths, **config)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for l, blk in enumerate(self.encoder):
            x = blk(x)
            if l < self.depth:
                skips.append(x)
                x = self.pool(x)
        for up, blk in zip(self.ups, self.decoder):
            skip = skips.pop()
            x = up(x)
            if x.shape[-2:] != skip.shape[-2:]:
                # The blog's TF.resize fix-up for odd sizes (500→250→125→62: 124 vs 125).
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if self.skips:
                x = torch.cat([x, skip], dim=1)
            x = blk(x)
        return self.head(x)


def blog_unet(
    base: float = 64, *, in_channels: int = 3, classes: int = 1, order: Order = "relu_bn", depth: int = 4
) -> UNet:
    """The blog's U-Net: two convs per level, base width 64 → 31,043,521 parameters."""
    return UNet(unet_widths(base, depth, 2, True), in_channels=in_channels, classes=classes,
                depth=depth, convs_per_level=2, skips=True, order=order)


def blog_unet_one_conv(
    base: float = 64, *, in_channels: int = 3, classes: int = 1, order: Order = "relu_bn", depth: int = 4
) -> UNet:
    """The blog's Table 5 variant: one conv per level → 15,330,625 parameters at base 64."""
    return UNet(unet_widths(base, depth, 1, True), in_channels=in_channels, classes=classes,
                depth=depth, convs_per_level=1, skips=True, order=order)


def blog_encoder_decoder(
    base: float = 64, *, in_channels: int = 3, classes: int = 1, order: Order = "relu_bn", depth: int = 4
) -> UNet:
    """The blog's U-Net without skips; up convs keep their input width → 33,829,761 parameters."""
    return UNet(unet_widths(base, depth, 2, False), in_channels=in_channels, classes=classes,
                depth=depth, convs_per_level=2, skips=False, order=order)
