"""What ``bench calibrate`` times: one probe per (layer kind, channels, resolution, stride, batch).

A probe is a small module plus the :class:`morph.graph.Layer` that describes it, so the fit sees exactly the
features the latency resource will use (:func:`morph.resources.calibrated.layer_features`). Conv kinds are
timed as conv → BN → ReLU (the zoo's unit; the kernel nn-Meter fuses, wave2-facts §2.2); transposed convs and
linear layers alone. The non-conv ops (BN, ReLU, concat, upsample, max-pool) are timed alone and fitted as a
per-call cost plus a cost per input element.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from morph.graph import FixedInput, Layer
from morph.resources.calibrated import layer_features


@dataclass(frozen=True)
class Grid:
    """Sizes to sample: every combination that stays under ``max_flops`` (and ``max_elements`` of
    activations), then ``per_kind`` drawn at random (``seed``); each probe is timed with ``warmup``, ``min_runs``
    and ``min_time_s`` (:func:`bench.measure.measure_latency`'s protocol)."""

    channels: tuple[int, ...]
    resolutions: tuple[int, ...]
    batches: tuple[int, ...]
    per_kind: int
    max_flops: float
    max_elements: float
    seed: int = 0
    warmup: int = 5
    min_runs: int = 15
    min_time_s: float = 0.25


GRIDS = {  # keyed by device ("cpu", "cuda"), plus "quick" for smoke runs
    "cpu": Grid(channels=(4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256), resolutions=(8, 16, 32, 64, 128, 256),
                 batches=(1, 8), per_kind=48, max_flops=4e9, max_elements=4e7),
    # a GPU reaches its throughput only on large layers: sizes up to the blog's base-64 U-Net at 512², batch 8
    "cuda": Grid(channels=(4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512),
                 resolutions=(8, 16, 32, 64, 128, 256, 512), batches=(1, 8), per_kind=64, max_flops=3e11,
                 max_elements=3e8, warmup=10, min_runs=20, min_time_s=0.1),
    "quick": Grid(channels=(8, 32, 64), resolutions=(16, 64), batches=(1, 8), per_kind=8, max_flops=2e8,
                  max_elements=4e6, warmup=2, min_runs=5, min_time_s=0.02),
}


@dataclass(frozen=True)
class Probe:
    """One timed setting: ``build()`` gives the module, ``input_shape`` one item's input (C, H, W) or (C,)."""

    kind: str
    build: Callable[[], nn.Module] = field(repr=False, compare=False)
    input_shape: tuple[int, ...]
    batch: int
    features: dict[str, float]

    def key(self) -> dict[str, object]:
        return {"kind": self.kind, "input_shape": list(self.input_shape), "batch": self.batch}


@dataclass(frozen=True)
class LayerKind:
    """A weighted layer kind: the module it builds at (cin, cout, stride) and its ``Layer`` description."""

    name: str
    kernel: int
    strides: tuple[int, ...] = (1,)
    module: str = "conv"  # "conv", "dwconv", "tconv" or "linear"

    def probes(self, grid: Grid, rng: random.Random) -> list[Probe]:
        res = (1,) if self.module == "linear" else grid.resolutions
        combos = []
        for cin, cout, hw, stride, batch in itertools.product(grid.channels, grid.channels, res, self.strides,
                                                              grid.batches):
            if self.module == "dwconv" and cout != cin:
                continue
            layer = self.layer(cin, cout, hw, stride)
            feats = layer_features(layer, batch)
            if feats["flop"] <= grid.max_flops and max(feats["in_elem"], feats["out_elem"]) <= grid.max_elements:
                combos.append((layer, batch, stride, feats))
        chosen = rng.sample(combos, min(grid.per_kind, len(combos)))
        return [Probe(self.name, _builder(self, lay.in_channels, lay.out_channels, s),
                      (lay.in_channels,) if self.module == "linear" else (lay.in_channels, *lay.in_hw), b, f)
                for lay, b, s, f in chosen]

    def layer(self, cin: int, cout: int, hw: int, stride: int) -> Layer:
        if self.module == "linear":
            return Layer("probe", "linear", (FixedInput(cin),), None, cin, cout, (1, 1))
        if self.module == "tconv":
            return Layer("probe", "tconv", (FixedInput(cin),), None, cin, cout, (self.kernel,) * 2,
                         out_hw=(hw * stride, hw * stride), in_hw=(hw, hw))
        out = (hw + 2 * (self.kernel // 2) - self.kernel) // stride + 1
        groups = cin if self.module == "dwconv" else 1
        return Layer("probe", "conv", (FixedInput(cin),), None, cin, cout, (self.kernel,) * 2, groups=groups,
                     out_hw=(out, out), in_hw=(hw, hw))


def _builder(kind: LayerKind, cin: int, cout: int, stride: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        k = kind.kernel
        if kind.module == "linear":
            return nn.Linear(cin, cout)
        if kind.module == "tconv":
            return nn.ConvTranspose2d(cin, cout, k, stride=stride)
        groups = cin if kind.module == "dwconv" else 1
        conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False)
        return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    return build


class _Concat(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x], 1)


@dataclass(frozen=True)
class OpKind:
    """A non-conv op timed alone; its one feature is the number of input elements (concat: of both inputs)."""

    name: str
    build: Callable[[int], nn.Module] = field(repr=False)
    inputs: int = 1  # how many times the input is read (concat of x with itself: 2)

    def probes(self, grid: Grid, rng: random.Random) -> list[Probe]:
        combos = [(c, hw, b) for c, hw, b in itertools.product(grid.channels, grid.resolutions, grid.batches)
                  if c * hw * hw * b * self.inputs <= grid.max_elements]
        chosen = rng.sample(combos, min(grid.per_kind, len(combos)))
        return [Probe(self.name, (lambda c=c: self.build(c)), (c, hw, hw), b,
                      {"in_elem": float(c * hw * hw * b * self.inputs)}) for c, hw, b in chosen]


LAYER_KINDS = (
    LayerKind("conv1x1", 1, strides=(1, 2)),
    LayerKind("conv3x3", 3, strides=(1, 2)),
    LayerKind("conv7x7", 7, strides=(2,)),
    LayerKind("dwconv", 3, strides=(1, 2), module="dwconv"),
    LayerKind("tconv", 2, strides=(2,), module="tconv"),
    LayerKind("linear", 1, module="linear"),
)
OP_KINDS = (
    OpKind("bn", nn.BatchNorm2d),
    OpKind("relu", lambda c: nn.ReLU()),
    OpKind("concat", lambda c: _Concat(), inputs=2),
    OpKind("upsample", lambda c: nn.Upsample(scale_factor=2, mode="nearest")),
    OpKind("maxpool", lambda c: nn.MaxPool2d(2, 2)),
)
OPS_ONLY = frozenset({"bn", "relu", "upsample", "maxpool"})
"""Ops timed for the record but not priced by the device: the channel graph has no place for them (conv kinds
include their BN and ReLU; see morph.resources.calibrated)."""
FALLBACK = {"gconv": "conv3x3"}
"""Kinds the zoo may use that are not timed: a grouped conv is priced as a dense 3×3 with its FLOPs ÷ groups."""


def probes(grid: Grid) -> list[Probe]:
    """Every probe of every layer kind and op, in a fixed random order (so a slow drift of the machine spreads
    over all kinds instead of biasing one)."""
    rng = random.Random(grid.seed)
    out = [p for kind in (*LAYER_KINDS, *OP_KINDS) for p in kind.probes(grid, rng)]
    rng.shuffle(out)
    return out
