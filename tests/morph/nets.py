"""Small stub nets for the graph, cost, source and regularizer tests (all take 1×3×8×8 inputs)."""

from __future__ import annotations

import torch
from torch import nn


def _unit(cin: int, cout: int, k: int = 3, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout))


class Chain(nn.Module):
    """image(3) → a: 3×3 conv+BN (4) → b: 3×3 conv+BN (6) → head: 1×1 conv (2)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = _unit(3, 4), _unit(4, 6), nn.Conv2d(6, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.b(torch.relu(self.a(x)))))


class Concat(nn.Module):
    """::

        image(3) ─→ a: 3×3 (4) ─┐
                 └→ b: 3×3 (5) ─┴ cat (9) ─→ c: 3×3 (6) ─┐
                                          └→ d: 1×1 (7) ─┴ cat (13) → head: 1×1 (1)
    """

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = _unit(3, 4), _unit(3, 5)
        self.c, self.d = _unit(9, 6), _unit(9, 7, k=1)
        self.head = nn.Conv2d(13, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.a(x), self.b(x)], 1)
        return self.head(torch.cat([self.c(y), self.d(y)], 1))


class Depthwise(nn.Module):
    """image(3) → a: 1×1 (8) → dw: 3×3 depthwise (8) → b: 1×1 (4) → head: 1×1 (1)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.dw, self.b = _unit(3, 8, k=1), _unit(8, 8, groups=8), _unit(8, 4, k=1)
        self.head = nn.Conv2d(4, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.b(self.dw(self.a(x))))


class Residual(nn.Module):
    """image(3) → stem: 3×3 (4) ─┬───────────────┐
                                  └→ c1: 3×3 (4) ─┴ add (4) → c2: 3×3 (5) → head: 1×1 (1)

    ``stem`` and ``c1`` are tied by the add (one group of 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.c1, self.c2 = _unit(3, 4), _unit(4, 4), _unit(4, 5)
        self.head = nn.Conv2d(5, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        return self.head(self.c2(y + self.c1(y)))


class Shuffle(nn.Module):
    """image(3) → a: 1×1 (4) → channel shuffle (2 groups) → head: 1×1 (1): unsupported."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.head = _unit(3, 4, k=1), nn.Conv2d(4, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return self.head(y)


def example() -> torch.Tensor:
    return torch.randn(1, 3, 8, 8)
