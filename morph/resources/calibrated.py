"""A latency device fitted to measurements: per layer kind, a fixed cost per call plus throughput terms.

Per layer (``batch`` examples, alive counts ``n_in``, ``n_out``)::

    t = const + flop · FLOPs + in_elem · (input elements) + out_elem · (output elements) + weight · (weights)

with one coefficient set per layer kind (:func:`layer_kind`), optionally one per calibrated batch size. Every
feature is linear or bilinear in the alive counts (FLOPs and weights ∝ n_in·n_out, or n_out for a depthwise
conv; activations ∝ n_in or n_out), so each layer's cost is one :class:`~morph.resources.terms.Terms` side
plus a constant and the MorphNet penalty stays differentiable exactly as with the roofline. Unlike the roofline
it has a per-call cost (kernel launch, dispatch, framework overhead), which dominates small layers
(wave2-facts §2.4).

What the coefficients of a kind cover is decided when they are fitted (``bench calibrate``): conv kinds are
timed as conv → BN → ReLU, the unit the zoo uses and the kernel nn-Meter fuses (wave2-facts §2.2), so a conv's
norm and activation are in its ``out_elem`` and ``const``; a layer fed by a concatenation additionally pays
``concat`` per call and input element (:func:`layer_parts`). Pooling, upsampling and residual adds are not
layers of the channel graph, so probes alone do not price them; fitting on whole-model timings as well
(:func:`graph_features`) folds their cost into the coefficients of the layers around them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from morph.errors import MorphError
from morph.graph import ChannelGraph, Layer
from morph.resources.terms import Terms, flop_terms, param_terms

FEATURES = ("flop", "in_elem", "out_elem", "weight")
"""The throughput features of a layer kind (each with a coefficient besides ``const``)."""
CONCAT = "concat"
OPTIONAL_PARTS = (CONCAT,)
"""Parts a device may leave unpriced (a concatenation costs nothing when ``concat`` is not among its kinds)."""


@dataclass(frozen=True)
class KindCoefficients:
    """Seconds per call (``const``) and per unit of each feature (FLOP, input/output element, weight)."""

    const: float = 0.0
    flop: float = 0.0
    in_elem: float = 0.0
    out_elem: float = 0.0
    weight: float = 0.0

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.as_dict().items() if not v >= 0}
        if bad:
            raise MorphError(f"latency coefficients must be ≥ 0, got {bad}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def layer_kind(layer: Layer) -> str:
    """The calibration key of a layer: ``linear``, ``tconv``, ``dwconv``, ``gconv`` or ``conv{kh}x{kw}``."""
    if layer.kind in ("linear", "tconv"):
        return layer.kind
    if layer.depthwise:
        return "dwconv"
    if layer.groups > 1:
        return "gconv"
    return f"conv{layer.kernel[0]}x{layer.kernel[1]}"


def feature_terms(layer: Layer, batch: int = 1) -> dict[str, Terms]:
    """Each feature as a function of the alive counts (``Terms.cost(n_in, n_out)`` gives its value).

    This is the one definition of the features: the fit (``bench.calibrate``) evaluates them at full width,
    the penalty uses them as coefficients.
    """
    (hi, wi), (ho, wo) = layer.in_hw, layer.out_hw
    return {
        "flop": flop_terms(layer, batch),
        "in_elem": Terms(lin_in=float(hi * wi * batch)),
        "out_elem": Terms(lin_out=float(ho * wo * batch)),
        "weight": param_terms(layer),
    }


def layer_features(layer: Layer, batch: int = 1) -> dict[str, float]:
    """Feature values of ``layer`` at its full width."""
    return {k: t.cost(layer.in_channels, layer.out_channels) for k, t in feature_terms(layer, batch).items()}


def layer_parts(layer: Layer, batch: int = 1) -> dict[str, dict[str, Terms]]:
    """What a layer is priced as: its own kind (one call plus its features) and, when several input groups are
    concatenated into it, one ``concat`` call per its input elements. Terms per kind and coefficient name."""
    parts = {layer_kind(layer): {"const": Terms(const=1.0), **feature_terms(layer, batch)}}
    if len(layer.in_groups) > 1 and layer.kind != "linear":
        hi, wi = layer.in_hw
        parts[CONCAT] = {"const": Terms(const=1.0), "in_elem": Terms(lin_in=float(hi * wi * batch))}
    return parts


def graph_features(graph: ChannelGraph, alive: Mapping[int, float] | None = None,
                   batch: int = 1) -> dict[str, dict[str, float]]:
    """Per kind, the summed multiplier of every coefficient (``const``: the number of calls) at the alive counts
    (missing ids: full width): a calibrated device's graph cost is Σ_kind Σ_name coefficient × this. Fitting on
    whole-model timings uses it (the cost is linear in the coefficients)."""
    from morph.resources.cost import alive_in_out

    out: dict[str, dict[str, float]] = {}
    for layer in graph.layers:
        n_in, n_out = alive_in_out(layer, alive or {}, graph)
        for kind, terms in layer_parts(layer, batch).items():
            acc = out.setdefault(kind, {})
            for name, t in terms.items():
                acc[name] = acc.get(name, 0.0) + float(t.cost(n_in, n_out))
    return out


@dataclass(frozen=True)
class CalibratedDevice:
    """A fitted latency model; use it wherever a device is accepted (``graph_cost``, the regularizer) or
    register it by name with :func:`morph.resources.add_device`.

    Attributes:
        name: the device's name (e.g. ``"cpu2-calibrated"``).
        kinds: coefficients per :func:`layer_kind`, and optionally ``concat``: per-call and per-input-element
            cost of the concatenation feeding a layer with several input groups.
        fallback: kind → calibrated kind to use instead (e.g. ``{"conv5x5": "conv3x3"}``); a conv kind with
            neither falls back to the calibrated conv kind nearest in kernel area.
        batches: optional coefficient sets fitted at one batch size each (batch → kind → coefficients). A layer
            priced at batch ``b`` uses the set of the calibrated batch nearest ``b`` on a log scale (ties: the
            smaller), and ``kinds`` for any kind that set lacks. On CPU the cost per element is not the same at
            batch 1 and 8 (how well the threads split the work differs): on held-out variants one set for both
            batches put 2 to 7 points fewer of them within ±10 % (measured with bench.calibrate).
    """

    name: str
    kinds: Mapping[str, KindCoefficients]
    fallback: Mapping[str, str] = field(default_factory=dict)
    batches: Mapping[int, Mapping[str, KindCoefficients]] = field(default_factory=dict)

    def kinds_at(self, batch: int | None = None) -> Mapping[str, KindCoefficients]:
        """The coefficients per kind used at ``batch`` (``None``: the all-batch ``kinds``)."""
        if batch is None or not self.batches:
            return self.kinds
        near = min(self.batches, key=lambda b: (abs(math.log(b) - math.log(max(batch, 1))), b))
        return {**self.kinds, **self.batches[near]}

    def coefficients(self, kind: str, batch: int | None = None) -> KindCoefficients:
        """The coefficients used for ``kind`` (at ``batch``), following ``fallback`` and then the nearest conv
        kernel."""
        return self._lookup(self.kinds_at(batch), kind)

    def _lookup(self, kinds: Mapping[str, KindCoefficients], kind: str) -> KindCoefficients:
        kind = self.fallback.get(kind, kind)
        if kind in kinds:
            return kinds[kind]
        near = _nearest_conv(kind, kinds)
        if near is None:
            raise MorphError(f"device '{self.name}': no latency coefficients for layer kind '{kind}' "
                             f"(calibrated: {', '.join(sorted(kinds))})")
        return kinds[near]

    def layer_sides(self, layer: Layer, batch: int = 1) -> tuple[Terms, ...]:
        """One additive side: Σ coefficient × feature over the layer's parts (:func:`layer_parts`)."""
        side = Terms()
        kinds = self.kinds_at(batch)  # resolved once per layer, not once per part
        for kind, terms in layer_parts(layer, batch).items():
            if kind in OPTIONAL_PARTS and kind not in kinds:
                continue
            c = self._lookup(kinds, kind)
            for name, t in terms.items():
                side = side + t.scaled(getattr(c, name))
        return (side,)

    def predict(self, layer: Layer, batch: int = 1) -> float:
        """Seconds for ``layer`` at full width."""
        return self.layer_sides(layer, batch)[0].cost(layer.in_channels, layer.out_channels)


def _nearest_conv(kind: str, kinds: Mapping[str, KindCoefficients]) -> str | None:
    def area(k: str) -> int | None:
        if not k.startswith("conv") or "x" not in k:
            return None
        a, _, b = k[4:].partition("x")
        return int(a) * int(b) if a.isdigit() and b.isdigit() else None

    want = area(kind)
    have = {k: a for k in kinds if (a := area(k)) is not None}
    if want is None or not have:
        return None
    return min(have, key=lambda k: (abs(have[k] - want), have[k]))
