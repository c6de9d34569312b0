"""Resources (what the regularizer spends) and the cost of a whole graph at given alive counts.

A resource maps a layer to one or more roofline sides of :class:`~morph.resources.terms.Terms`; a layer
costs the largest side. ``params_exact`` also counts biases, norm affine parameters and ``constant_params``
so that a rebuilt model's ``sum(p.numel())`` is predicted exactly; the other three follow MorphNet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from morph.registry import Registry
from morph.errors import MorphError
from morph.graph import ChannelGraph, ChannelGroup, FixedInput, Layer
from morph.resources.devices import Device, get_device
from morph.resources.terms import Terms, flop_terms, param_terms


SideFn = Callable[[Layer, int, "Device | None"], tuple[Terms, ...]]


@dataclass(frozen=True)
class Resource:
    """A named cost model: ``terms`` gives a layer's roofline sides (a layer costs the largest); ``unit`` says
    what one unit of cost is; ``exact_params`` adds the norm and constant parameters outside any layer."""

    name: str
    unit: str
    terms: SideFn
    needs_device: bool = False
    exact_params: bool = False

    def sides(self, layer: Layer, batch: int = 1, device: Device | None = None) -> tuple[Terms, ...]:
        if self.needs_device and device is None:
            raise MorphError(f"the {self.name} resource needs a device (e.g. device='V100')")
        return self.terms(layer, batch, device)

    def group_coeff(self, group: ChannelGroup) -> float:
        """Cost per alive channel of a group outside any layer (norm affine parameters)."""
        return float(group.norm_params) if self.exact_params else 0.0

    def constant(self, graph: ChannelGraph) -> float:
        return float(graph.constant_params) if self.exact_params else 0.0


RESOURCES: Registry[Resource] = Registry("resource")


def register_resource(resource: Resource) -> Resource:
    """Add a cost model (one per name). Returns it."""
    RESOURCES.register(resource.name)(resource)
    return resource


def _device_sides(layer: Layer, batch: int, device: Device | None) -> tuple[Terms, ...]:
    """The device's own sides: (compute, memory) for a roofline profile, one additive side for a calibrated one."""
    assert device is not None
    return device.layer_sides(layer, batch)


for _r in (
    Resource("params", "weights (MorphNet model size: conv/linear kernels only)",
             lambda layer, batch, device: (param_terms(layer),)),
    Resource("params_exact", "parameters (weights + biases + norm affine + constant)",
             lambda layer, batch, device: (param_terms(layer, with_bias=True),), exact_params=True),
    Resource("flops", "FLOPs per batch (2 per multiply-add)", lambda layer, batch, device: (flop_terms(layer, batch),)),
    Resource("latency", "seconds per batch (the device's model per layer: roofline or calibrated)", _device_sides,
             needs_device=True),
):
    register_resource(_r)


def resource_names() -> list[str]:
    return RESOURCES.names()


def alive_in_out(layer: Layer, alive: Mapping[int, float], graph: ChannelGraph) -> tuple[float, float]:
    """Alive input channels (sum over ``in_groups``; fixed inputs count fully) and alive outputs
    (a depthwise layer's equal its inputs)."""
    n_in = 0.0
    for g in layer.in_groups:
        n_in += g.channels if isinstance(g, FixedInput) else alive.get(g, graph.groups[g].width)
    if layer.depthwise:  # outputs follow inputs one to one (also over a concat, where out_group is None)
        return n_in, n_in
    n_out = layer.out_channels if layer.out_group is None else alive.get(layer.out_group, graph.groups[layer.out_group].width)
    return n_in, float(n_out)


def layer_costs(
    graph: ChannelGraph,
    alive: Mapping[int, float] | None = None,
    resource: str = "params",
    device: str | Device | None = None,
    batch: int = 1,
) -> dict[str, float]:
    """Cost per layer name (without the group and constant terms of ``params_exact``)."""
    res = RESOURCES.get(resource)
    dev = get_device(device) if device is not None else None
    alive = alive or {}
    out = {}
    for layer in graph.layers:
        n_in, n_out = alive_in_out(layer, alive, graph)
        out[layer.name] = max(t.cost(n_in, n_out) for t in res.sides(layer, batch, dev))
    return out


def graph_cost(
    graph: ChannelGraph,
    alive: Mapping[int, float] | None = None,
    resource: str = "params",
    device: str | Device | None = None,
    batch: int = 1,
) -> float:
    """Total cost of ``graph`` when group ``i`` keeps ``alive[i]`` channels (missing ids: full width).

    Args:
        resource: "params" (weights, as MorphNet), "params_exact", "flops" (per ``batch`` examples) or
            "latency" (seconds; needs ``device``, a name in ``DEVICES`` or a device object).
    """
    if batch < 1:
        raise ValueError(f"batch must be ≥ 1, got {batch}")
    res = RESOURCES.get(resource)
    alive = alive or {}
    total = sum(layer_costs(graph, alive, resource, device, batch).values())
    total += sum(res.group_coeff(g) * alive.get(g.id, g.width) for g in graph.groups)
    return total + res.constant(graph)
