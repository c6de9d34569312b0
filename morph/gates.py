"""FiGS: morph-net's logistic-sigmoid gates as a MorphNet source (wave2-facts §1).

A gate holds one logit ``l`` per channel and multiplies its input's channels by a mask:

- training: ``m = sigmoid((l + u) / τ)`` with ``u ~ Logistic(0, 1)`` drawn once per forward for all positions
  of a channel (binary Concrete, no stretch or clamp); ``straight_through`` makes the forward ``1[l + u > 0]``
  with the same backward; τ = 1e-3 and ``l`` = 2.5 at the start (p = σ(2.5) ≈ 0.92), morph-net's defaults;
- inference: ``m = 1[l > 0] · sigmoid(l)`` (``soft_mask_for_inference``; without it ``1[l > 0]``).

The mask is computed in fp32 (``(l + u)/τ`` reaches 1e4, past fp16). As ``ProbGatingRegularizer``, a gate's
regularization vector is its sampled mask (``regularize_on_mask``; else ``p = sigmoid(l)``) and a channel is
alive when the mask is ≥ 0.1 (inclusive). Channels tied across several gates (a residual add) combine as
``1 − Π(1 − r_i)``, alive = OR (``ProbabilisticGroupingRegularizer``). Costs are the same bilinear MorphNet
costs as for γ, with these vectors in place of |γ|.

:func:`insert_gates` puts a gate after each prunable conv's norm (on the conv's output where its group has no
norm of its own), as a child ``morph_gate`` of that module applied by a forward hook, so module names,
tracing and the optimizer's parameters (``model.parameters()`` includes the logits) all keep working;
:func:`remove_gates` folds each gate's inference mask into the module it follows (exact for plain
BN/GN/LN and convs) or drops it, so an exported model has no gates.

morph-net's ``keep_first_channel_alive`` (default True there) forces channel 0 on; its own code calls it
"a hack" that "can confuse the FLOPs estimation", and it would hide a dead layer from layer removal, so here
it is an option that defaults to False.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from morph.errors import MorphError
from morph.graph import ChannelGraph, ChannelGroup

TEMPERATURE = 1e-3
LOG_ODDS_INIT = 2.5
ALIVE_THRESHOLD = 0.1
GATE_ATTR = "morph_gate"


def logistic_noise(n: int, *, device: torch.device | str | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` draws of Logistic(0, 1) in fp32: ``log(v) − log(1 − v)`` for ``v ~ U(0, 1)``."""
    v = torch.rand(n, generator=generator, device=device, dtype=torch.float32)
    v = v.clamp(torch.finfo(torch.float32).tiny, 1 - torch.finfo(torch.float32).eps)
    return torch.log(v) - torch.log1p(-v)


def sample_mask(logits: torch.Tensor, noise: torch.Tensor, temperature: float = TEMPERATURE,
                straight_through: bool = False) -> torch.Tensor:
    """morph-net's ``_logistic_sigmoid_sample`` for given noise (fp32; differentiable in ``logits``).

    ``temperature == 0`` is the hard ``1[l + u > 0]`` with no gradient, as morph-net.
    """
    if temperature < 0:
        raise MorphError(f"gate temperature must be ≥ 0, got {temperature}")
    z = logits.float() + noise
    hard = (z > 0).float()
    if temperature == 0:
        return hard
    soft = torch.sigmoid(z / temperature)
    return hard + soft - soft.detach() if straight_through else soft


def inference_mask(logits: torch.Tensor, soft: bool = True) -> torch.Tensor:
    """``1[l > 0] · sigmoid(l)`` (``soft``) or ``1[l > 0]``, in fp32."""
    l = logits.float()
    on = (l > 0).float()
    return on * torch.sigmoid(l) if soft else on


def combine_probabilistic(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """``1 − Π_i (1 − r_i)``: the probability that at least one tied channel is on."""
    if not vectors:
        raise MorphError("combining gates needs at least one vector")
    return 1 - torch.prod(1 - torch.stack([v.float() for v in vectors]), dim=0)


def combine_alive(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """A tied channel is alive if it is alive in any member (logical OR)."""
    if not vectors:
        raise MorphError("combining gates needs at least one vector")
    return torch.stack([v.bool() for v in vectors]).any(0)


class LogisticSigmoidGate(nn.Module):
    """One logit per channel; multiplies channel ``c`` (dim 1) of its input by the mask (see the module doc).

    Args:
        channels: number of channels.
        temperature: τ of the training sample.
        log_odds_init: initial logit.
        straight_through: hard mask forward, soft gradient backward.
        soft_mask_for_inference: multiply the inference mask by ``sigmoid(l)``.
        keep_first_channel_alive: force channel 0's mask to 1 in the forward pass.
        regularize_on_mask: regularization vector = sampled mask (else ``sigmoid(l)``).
        alive_threshold: alive when the mask (or, without ``mask_as_alive_vector``, ``sigmoid(l)``) is ≥ this.
        mask_as_alive_vector: decide aliveness on the mask rather than on the probability.
    """

    def __init__(self, channels: int, *, temperature: float = TEMPERATURE, log_odds_init: float = LOG_ODDS_INIT,
                 straight_through: bool = False, soft_mask_for_inference: bool = True,
                 keep_first_channel_alive: bool = False, regularize_on_mask: bool = True,
                 alive_threshold: float = ALIVE_THRESHOLD, mask_as_alive_vector: bool = True) -> None:
        super().__init__()
        if channels < 1:
            raise MorphError(f"a gate needs at least one channel, got {channels}")
        if temperature < 0:
            raise MorphError(f"gate temperature must be ≥ 0, got {temperature}")
        self.logits = nn.Parameter(torch.full((channels,), float(log_odds_init)))
        self.temperature, self.straight_through = temperature, straight_through
        self.soft_mask_for_inference, self.keep_first_channel_alive = soft_mask_for_inference, keep_first_channel_alive
        self.regularize_on_mask, self.mask_as_alive_vector = regularize_on_mask, mask_as_alive_vector
        self.alive_threshold = alive_threshold
        self.register_buffer("noise", torch.zeros(channels), persistent=False)
        self._drawn = False
        self.bypass = False  # set by :func:`bypassed` while a tracer must see the module it follows

    def extra_repr(self) -> str:
        return f"{self.logits.numel()}, temperature={self.temperature}"

    def resample(self, generator: torch.Generator | None = None) -> None:
        """Draw new logistic noise (every training forward does)."""
        self.noise = logistic_noise(self.logits.numel(), device=self.logits.device, generator=generator)
        self._drawn = True

    def mask(self) -> torch.Tensor:
        """The mask of the last forward (training: the same noise; inference: deterministic), fp32, without
        the channel-0 override. In training it is differentiable in the logits and rebuilt on every call, so
        the penalty and the task loss may be backpropagated separately."""
        if not self.training:
            return inference_mask(self.logits, self.soft_mask_for_inference)
        if not self._drawn:
            self.resample()
        return sample_mask(self.logits, self.noise, self.temperature, self.straight_through)

    def probabilities(self) -> torch.Tensor:
        return torch.sigmoid(self.logits.float())

    def regularization_vector(self) -> torch.Tensor:
        return self.mask() if self.regularize_on_mask else self.probabilities()

    def alive_vector(self) -> torch.Tensor:
        with torch.no_grad():
            vec = self.mask() if self.mask_as_alive_vector else self.probabilities()
            return vec >= self.alive_threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bypass:
            return x
        if self.training:
            self.resample()
            m = self.mask()
        else:  # a constant: tracing (Torch-Pruning, fvcore) sees an element-wise scale, no parameter
            with torch.no_grad():
                m = self.mask()
        if self.keep_first_channel_alive:
            m = torch.cat([torch.ones_like(m[:1]), m[1:]])
        shape = [1, -1] + [1] * (x.dim() - 2)
        return x * m.view(shape).to(x.dtype)


def _apply_gate(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
    # A module-level function (not a closure) so deep copies and pickles of a gated model stay valid.
    return getattr(module, GATE_ATTR)(output)


def gate_sites(graph: ChannelGraph, group: ChannelGroup) -> list[str]:
    """Where a group's gates go: after each of its norms that carries exactly this group's channels, else on
    the output of each of its producers (transpose convs and other norm-free groups)."""
    norms = [n for n in group.norms if _channels(graph.modules[n]) == group.width]
    return norms or list(group.producers)


def _channels(m: nn.Module) -> int | None:
    for attr in ("num_features", "num_channels", "out_channels", "out_features"):
        if hasattr(m, attr):
            return int(getattr(m, attr))
    if isinstance(m, nn.LayerNorm) and len(m.normalized_shape) == 1:
        return int(m.normalized_shape[0])
    return None


def gate_of(module: nn.Module) -> LogisticSigmoidGate | None:
    gate = getattr(module, GATE_ATTR, None)
    return gate if isinstance(gate, LogisticSigmoidGate) else None


def attach_gate(module: nn.Module, channels: int, **options: Any) -> LogisticSigmoidGate:
    """Gate ``module``'s output (reusing a gate it already has)."""
    gate = gate_of(module)
    if gate is not None:
        if gate.logits.numel() != channels:
            raise MorphError(f"{type(module).__name__} already has a gate of {gate.logits.numel()} channels, "
                             f"not {channels}")
        return gate
    ref = next(iter(module.parameters()), None)
    gate = LogisticSigmoidGate(channels, **options)
    if ref is not None:
        gate = gate.to(ref.device)
    gate.train(module.training)
    module.add_module(GATE_ATTR, gate)
    module.register_forward_hook(_apply_gate)
    return gate


def insert_gates(model: nn.Module, example_input: torch.Tensor | None = None, *, graph: ChannelGraph | None = None,
                 fixed: Iterable[str] = (), **options: Any) -> dict[str, LogisticSigmoidGate]:
    """Gate every prunable group of ``model`` in place (see :func:`gate_sites`); returns site name → gate.

    Build the optimizer afterwards: the logits are new parameters of ``model``.

    Args:
        graph: the model's channel graph; traced from ``example_input`` when not given.
        fixed: layers whose outputs keep their width (the head always does): not gated.
        **options: for :class:`LogisticSigmoidGate`.
    """
    if graph is None:
        if example_input is None:
            raise MorphError("insert_gates needs example_input or a graph")
        from morph.groups import build_graph

        graph = build_graph(model, example_input, fixed)
    names = {id(m): n for n, m in model.named_modules()}
    out: dict[str, LogisticSigmoidGate] = {}
    for group in graph.groups:
        for site in gate_sites(graph, group):
            out[names[id(graph.modules[site])]] = attach_gate(graph.modules[site], group.width, **options)
    return out


def gates(model: nn.Module) -> dict[str, LogisticSigmoidGate]:
    """Gated module name → its gate."""
    return {n: g for n, m in model.named_modules() if (g := gate_of(m)) is not None}


@contextmanager
def bypassed(model: nn.Module) -> Iterator[nn.Module]:
    """Gates pass their input through for the block. Tracing needs this: Torch-Pruning maps a module to its
    output's ``grad_fn``, which a gate applied by a forward hook would replace with its own multiplication."""
    found = list(gates(model).values())
    for g in found:
        g.bypass = True
    try:
        yield model
    finally:
        for g in found:
            g.bypass = False


def remove_gates(model: nn.Module, fold: bool = True) -> nn.Module:
    """Take every gate out of ``model`` in place; returns ``model``.

    Args:
        fold: multiply each gate's inference mask into the module it follows (its affine weight and bias, or a
            conv's output-channel weights and bias), so the eval-mode output is unchanged; False just drops the
            gates (the channels lose their ``sigmoid(l)`` scale: for a model that is rebuilt and retrained).

    Raises:
        MorphError: ``fold`` on a module whose output is not affine in its parameters (a fused norm+activation,
            a norm without affine parameters).
    """
    for name, module in list(model.named_modules()):
        gate = gate_of(module)
        if gate is None:
            continue
        if fold:
            _fold(name, module, inference_mask(gate.logits.detach(), gate.soft_mask_for_inference))
        del module._modules[GATE_ATTR]
        for key, hook in list(module._forward_hooks.items()):
            if hook is _apply_gate:
                del module._forward_hooks[key]
    return model


_FOLD_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)


def _fold(name: str, m: nn.Module, mask: torch.Tensor) -> None:
    if type(m) in _FOLD_NORMS and getattr(m, "weight", None) is not None:
        scaled = [(m.weight, 0), (getattr(m, "bias", None), 0)]
    elif type(m) in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d):
        scaled = [(m.weight, 1 if m.transposed else 0), (m.bias, 0)]
        if m.groups > 1 and m.transposed:
            raise MorphError(f"{name} ({type(m).__name__}): folding a gate into a grouped transposed conv")
    elif type(m) is nn.Linear:
        scaled = [(m.weight, 0), (m.bias, 0)]
    else:
        raise MorphError(f"{name} ({type(m).__name__}): cannot fold a gate into it exactly; use fold=False")
    with torch.no_grad():
        for p, dim in scaled:
            if p is None:
                continue
            shape = [1] * p.dim()
            shape[dim] = -1
            p.mul_(mask.to(p.device, p.dtype).view(shape))


@dataclass(frozen=True)
class GateGroup:
    """One channel group's gates: its regularization vector, alive vector and the grouping rule.

    This is the logic of morph-net's ``ProbGatingRegularizer`` + ``ProbabilisticGroupingRegularizer``,
    kept free of the regularizer's source interface so it can be wrapped by whichever one is current.

    Attributes:
        kind: "logistic_sigmoid".
        gates: (site name, gate) per member.
    """

    kind: str
    gates: tuple[tuple[str, LogisticSigmoidGate], ...]

    def regularization_vector(self) -> torch.Tensor:
        vecs = [g.regularization_vector() for _, g in self.gates]
        return vecs[0] if len(vecs) == 1 else combine_probabilistic(vecs)

    def alive_vector(self) -> torch.Tensor:
        return combine_alive([g.alive_vector() for _, g in self.gates])


def gate_group(graph: ChannelGraph, group: ChannelGroup, **options: Any) -> GateGroup:
    """The gates of ``group`` (attached where missing, with ``options``)."""
    sites = gate_sites(graph, group)
    return GateGroup("logistic_sigmoid",
                     tuple((s, attach_gate(graph.modules[s], group.width, **options)) for s in sites))
