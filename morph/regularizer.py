"""MorphNet's regularizer G(θ): a resource-weighted group-L1 penalty on per-channel strengths.

Composes a channel graph (``morph.groups``), a source (``morph.sources``) and a resource (``morph.resources``).
For every layer and roofline side, ``reg = bilinear·(n_in·Σr_out + n_out·Σr_in) + lin_in·Σr_in +
lin_out·Σr_out + dw·(Σr_in + Σr_out)`` (morphnet-facts §1.6): alive counts ``n`` are detached constants, Σr sums
the strengths of *all* channels of a group. Latency uses whichever side costs more at the current counts.
Everything but the strengths is precomputed as index/coefficient tensors, so ``penalty()`` is a few small ops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from morph.errors import MorphError
from morph.graph import ChannelGraph, FixedInput
from morph.groups import build_graph
from morph.resources import RESOURCES, DeviceProfile, get_device, graph_cost
from morph.sources import GroupStrength, create_source


@dataclass(frozen=True)
class GroupInfo:
    """What the regularizer sees of one group (for inspection and reports)."""

    id: int
    name: str
    width: int
    producers: tuple[str, ...]
    norms: tuple[str, ...]
    source: str


class MorphNetRegularizer:
    """``loss = task_loss + λ · reg.penalty()``; ``reg.cost()`` and ``reg.alive_widths()`` to monitor.

    Args:
        model: the network (traced once, here).
        example_input: a batch at the resolution costs should describe.
        resource: "flops", "params", "params_exact" or "latency".
        source: "gamma" (|BN γ|, group lasso where a group has no BN) or "group_lasso".
        threshold: a channel is alive when its strength is strictly greater.
        device: latency device profile (a name in ``morph.resources.DEVICES`` or a DeviceProfile).
        fixed: layer names whose outputs must keep their width (the head always does).
        batch: examples per cost unit (FLOPs and latency scale with it).
    """

    def __init__(self, model: nn.Module, example_input: torch.Tensor, resource: str = "flops",
                 source: str = "gamma", threshold: float = 1e-2, device: str | DeviceProfile | None = None,
                 fixed: Iterable[str] = (), batch: int = 1) -> None:
        if threshold < 0:
            raise ValueError(f"threshold must be ≥ 0, got {threshold}")
        self.resource = RESOURCES.get(resource)
        self.device = get_device(device) if device is not None else None
        if self.resource.needs_device and self.device is None:
            raise MorphError(f"resource '{resource}' needs a device (e.g. device='V100')")
        self.threshold, self.batch = threshold, batch
        self.graph: ChannelGraph = build_graph(model, example_input, fixed)
        make = create_source(source)
        self.sources: list[GroupStrength] = [make(self.graph, g) for g in self.graph.groups]
        self._build_tensors()

    def _build_tensors(self) -> None:
        g_count, layers = len(self.graph.groups), self.graph.layers
        m_in = torch.zeros(len(layers), g_count, dtype=torch.float64)
        m_out = torch.zeros(len(layers), g_count, dtype=torch.float64)
        fix_in = torch.zeros(len(layers), dtype=torch.float64)
        fix_out = torch.zeros(len(layers), dtype=torch.float64)
        sides: list[list[list[float]]] = []
        for i, lay in enumerate(layers):
            for g in lay.in_groups:
                if isinstance(g, FixedInput):
                    fix_in[i] += g.channels
                else:
                    m_in[i, g] += 1
            if lay.depthwise:  # outputs follow inputs one to one
                m_out[i], fix_out[i] = m_in[i], fix_in[i]
            elif lay.out_group is None:
                fix_out[i] = lay.out_channels
            else:
                m_out[i, lay.out_group] = 1
            terms = self.resource.sides(lay, self.batch, self.device)
            sides.append([[t.bilinear, t.lin_in, t.lin_out, t.dw] for t in terms])
        n_sides = max((len(s) for s in sides), default=1)
        coef = torch.tensor([s + [[0.0] * 4] * (n_sides - len(s)) for s in sides], dtype=torch.float64)
        self._m_in, self._m_out, self._fix_in, self._fix_out = m_in, m_out, fix_in, fix_out
        self._coef = coef.reshape(len(layers), n_sides, 4)  # (layer, side, [bilinear, lin_in, lin_out, dw])
        self._group_coeff = torch.tensor([self.resource.group_coeff(g) for g in self.graph.groups], dtype=torch.float64)
        self._on: torch.device | None = None

    def _to(self, ref: torch.Tensor) -> None:
        if self._on != ref.device or self._m_in.dtype != ref.dtype:
            for k in ("_m_in", "_m_out", "_fix_in", "_fix_out", "_coef", "_group_coeff"):
                setattr(self, k, getattr(self, k).to(ref.device, ref.dtype))
            self._on = ref.device

    def _vectors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per group: Σ strength (differentiable) and alive count (constant)."""
        strengths = [s.strength() for s in self.sources]
        self._to(strengths[0])
        sums = torch.stack([s.sum() for s in strengths])
        alive = torch.stack([src.alive(self.threshold).sum() for src in self.sources]).to(sums.dtype)
        return sums, alive

    def penalty(self) -> torch.Tensor:
        """G(θ), differentiable in the strengths; multiply by λ and add to the task loss."""
        if not self.sources:
            return torch.zeros(())
        return self._penalty_from(*self._vectors())

    def _penalty_from(self, sums: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
        n_in = self._m_in @ alive + self._fix_in
        n_out = self._m_out @ alive + self._fix_out
        r_in, r_out = self._m_in @ sums, self._m_out @ sums
        b, li, lo, dw = self._coef.unbind(-1)  # each (layer, side)
        cost = b * (n_in * n_out)[:, None] + li * n_in[:, None] + (lo + dw) * n_out[:, None]
        side = cost.argmax(1, keepdim=True)  # the binding roofline side (one side: always 0)
        b, li, lo, dw = (t.gather(1, side).squeeze(1) for t in (b, li, lo, dw))
        reg = b * (n_in * r_out + n_out * r_in) + li * r_in + lo * r_out + dw * (r_in + r_out)
        return reg.sum() + (self._group_coeff * sums).sum()

    def alive_counts(self) -> dict[int, int]:
        """Group id → alive channels at the current parameters."""
        with torch.no_grad():
            return {g.id: int(s.alive(self.threshold).sum()) for g, s in zip(self.graph.groups, self.sources)}

    def cost(self) -> float:
        """The resource cost at the current alive counts (what ``penalty`` relaxes)."""
        return graph_cost(self.graph, self.alive_counts(), self.resource.name, self.device, self.batch)

    def alive_widths(self) -> dict[str, int]:
        """Alive channels per group name and per layer name (fixed layers keep their width)."""
        alive = self.alive_counts()
        out = {g.name: alive[g.id] for g in self.graph.groups}
        for lay in self.graph.layers:
            if lay.out_group is not None:
                out[lay.name] = alive[lay.out_group]
            elif lay.depthwise:
                out[lay.name] = sum(g.channels if isinstance(g, FixedInput) else alive[g] for g in lay.in_groups)
            else:
                out[lay.name] = lay.out_channels
        return out

    @property
    def groups(self) -> dict[str, GroupInfo]:
        return {g.name: GroupInfo(g.id, g.name, g.width, g.producers, g.norms, s.kind)
                for g, s in zip(self.graph.groups, self.sources)}

    def strengths(self) -> dict[str, torch.Tensor]:
        """Detached per-channel strengths per group name (for histograms and the threshold choice)."""
        with torch.no_grad():
            return {g.name: s.strength().detach().clone() for g, s in zip(self.graph.groups, self.sources)}

    def channel_coefficients(self) -> torch.Tensor:
        """∂G/∂(Σ strength of group g) with alive counts fixed: every channel of g is weighted by this."""
        with torch.no_grad():
            sums, alive = self._vectors()
        leaf = sums.detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self._penalty_from(leaf, alive), leaf)
        return grad.detach()
