"""The blog's CIFAR-10 CNN (MorphCNN notebook), built from per-layer widths.

Five conv→ReLU→BN blocks (32, 64, 128, 256, 256) and an FC head 4096→128→10: 1,505,674 parameters.
The notebook's exact pooling positions are not recorded; three 2×2 max-pools (after blocks 0, 1 and 3)
give the 4×4×256 = 4096 features its first FC layer expects, which is all the parameter count pins.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from morph.errors import MorphError

CNN_LAYERS = ("conv0", "conv1", "conv2", "conv3", "conv4", "fc0")
_POOL_AFTER = (0, 1, 3)


def cifar_cnn_widths() -> dict[str, int]:
    return dict(zip(CNN_LAYERS, (32, 64, 128, 256, 256, 128)))


class CifarCNN(nn.Module):
    """Conv blocks then a two-layer classifier; ``widths`` keys are :data:`CNN_LAYERS`."""

    def __init__(
        self,
        widths: Mapping[str, int] | None = None,
        *,
        in_channels: int = 3,
        classes: int = 10,
        image_size: int = 32,
    ) -> None:
        super().__init__()
        widths = dict(widths) if widths is not None else cifar_cnn_widths()
        if sorted(widths) != sorted(CNN_LAYERS) or any(int(w) != w or w < 1 for w in widths.values()):
            raise MorphError(f"CNN widths need positive integers for {list(CNN_LAYERS)}, got {widths}")
        if image_size % 2 ** len(_POOL_AFTER):
            raise MorphError(f"image_size must be divisible by {2 ** len(_POOL_AFTER)}, got {image_size}")
        self.widths = {n: int(widths[n]) for n in CNN_LAYERS}
        self.config = dict(in_channels=in_channels, classes=classes, image_size=image_size)
        layers: list[nn.Module] = []
        cin = in_channels
        for i in range(5):
            cout = self.widths[f"conv{i}"]
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout)]
            if i in _POOL_AFTER:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(_POOL_AFTER)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * side * side, self.widths["fc0"]),
            nn.ReLU(inplace=True),
            nn.Linear(self.widths["fc0"], classes),
        )

    def layer_modules(self) -> dict[str, nn.Module]:
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        out: dict[str, nn.Module] = {f"conv{i}": c for i, c in enumerate(convs)}
        out["fc0"] = self.classifier[1]
        return out

    def rebuild(self, widths: Mapping[str, int]) -> CifarCNN:
        return CifarCNN(widths, **self.config)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def blog_cifar_cnn(*, in_channels: int = 3, classes: int = 10) -> CifarCNN:
    return CifarCNN(cifar_cnn_widths(), in_channels=in_channels, classes=classes)
