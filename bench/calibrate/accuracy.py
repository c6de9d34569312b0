"""How well latency devices predict measured end-to-end latency (``bench latency-check``).

Random-width variants of a few model families are rebuilt, timed with the harness's protocol and predicted by
each device through :func:`morph.resources.graph_cost` on the family's channel graph, i.e. exactly the cost the
latency penalty and the width search use. The metrics are nn-Meter's share within ±10 % (wave2-facts §2.2), the
mean absolute percentage error, and the Spearman rank correlation, which is what a search needs most.
A roofline has no per-call cost and is far below measured times, so it is also shown rescaled by its median
measured/predicted ratio (labelled as such): that isolates how well it *ranks* and *scales* from its offset.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from bench.errors import BenchError
from morph.errors import MorphError
from morph.graph import ChannelGraph

Measure = Callable[[torch.nn.Module, tuple[int, ...], int], float]
"""(model, one item's input shape, batch) → seconds per call."""


@dataclass(frozen=True)
class CheckSettings:
    """What to measure: ``variants`` random-width variants per model spec, each at every size and batch, timed in
    ``rounds`` passes over all of them (a variant's latency: the median of its rounds)."""

    models: tuple[str, ...] = ("unet:base=16", "smp_unet:encoder=resnet18", "smp_fpn:encoder=mobilenet_v2")
    variants: int = 17
    sizes: tuple[int, ...] = (64, 128)
    batches: tuple[int, ...] = (1, 8)
    min_factor: float = 0.2
    seed: int = 0
    rounds: int = 1


@dataclass(frozen=True)
class Point:
    """One variant at one input size and batch: measured seconds and each device's prediction."""

    model: str
    variant: int
    size: int
    batch: int
    measured_s: float
    predicted_s: dict[str, float] = field(default_factory=dict)


def random_widths(seed_widths: Mapping[str, int], rng: random.Random, min_factor: float) -> dict[str, int]:
    """One global factor in [min_factor, 1] times a per-group jitter in [0.7, 1.3], within [1, seed width]."""
    f = rng.uniform(min_factor, 1.0)
    return {k: int(min(w, max(1, round(w * f * rng.uniform(0.7, 1.3))))) for k, w in seed_widths.items()}


@dataclass(frozen=True)
class Job:
    """One variant at one size and batch: ``build()`` rebuilds it (variants are not kept in memory), ``graph``
    and ``alive`` price it."""

    model: str
    variant: int
    size: int
    batch: int
    build: Callable[[], torch.nn.Module] = field(repr=False)
    graph: ChannelGraph = field(repr=False)
    alive: dict[int, int] = field(repr=False)


def _seeds(settings: CheckSettings) -> Iterator[tuple[str, torch.nn.Module, dict[int, ChannelGraph]]]:
    """Each model spec built once, with its channel graph at every input size."""
    from bench.model_spec import build_model, parse_model_spec
    from morph.groups import build_graph

    for spec in settings.models:
        name, kwargs = parse_model_spec(spec)
        model = build_model(name, kwargs)
        yield spec, model, {s: build_graph(model, torch.zeros(1, 3, s, s)) for s in settings.sizes}


def _jobs(spec: str, variant: int, model: torch.nn.Module, graphs: dict[int, ChannelGraph], widths: dict[str, int],
          settings: CheckSettings) -> list[Job]:
    from morph.rebuild import rebuild
    from morph.widths import names_to_ids

    build = functools.partial(rebuild, model, widths, graph=graphs[settings.sizes[0]])
    return [Job(spec, variant, s, b, build, graphs[s], names_to_ids(graphs[s], widths))
            for s in settings.sizes for b in settings.batches]


def variant_jobs(settings: CheckSettings) -> list[Job]:
    """Every (model, variant, size, batch), shuffled (machine drift then spreads over all models)."""
    from morph.widths import group_widths

    rng = random.Random(settings.seed)
    jobs = []
    for spec, model, graphs in _seeds(settings):
        seed = group_widths(graphs[settings.sizes[0]])
        for v in range(settings.variants):
            jobs += _jobs(spec, v, model, graphs, random_widths(seed, rng, settings.min_factor), settings)
    rng.shuffle(jobs)
    return jobs


def measure_jobs(jobs: Sequence[Job], devices: Mapping[str, Any], measure: Measure,
                 on_point: Callable[[int, int], None] | None = None, rounds: int = 1) -> list[Point]:
    """Predict (each device's graph cost) and time every job in ``rounds`` passes over all jobs
    (:func:`bench.measure.in_passes`); each point's time is the median of its passes."""
    from bench.measure import in_passes
    from morph.resources import graph_cost

    times = in_passes(jobs, lambda job: float(measure(job.build(), (3, job.size, job.size), job.batch)), rounds,
                      on_point)
    return [Point(job.model, job.variant, job.size, job.batch, float(np.median(t)),
                  {d: float(graph_cost(job.graph, job.alive, "latency", dev, batch=job.batch))
                   for d, dev in devices.items()})
            for job, t in zip(jobs, times)]


def run_check(settings: CheckSettings, devices: Mapping[str, Any], measure: Measure,
              on_point: Callable[[int, int], None] | None = None) -> list[Point]:
    """Predict and time every job of :func:`variant_jobs`, in ``settings.rounds`` passes."""
    return measure_jobs(variant_jobs(settings), devices, measure, on_point, rounds=settings.rounds)


@dataclass(frozen=True)
class DivisorPoint:
    """The uniform width multiplier at a params budget with widths rounded to multiples of ``divisor``."""

    divisor: int
    params: int
    point: Point


def run_divisors(settings: CheckSettings, divisors: Sequence[int], share: float, devices: Mapping[str, Any],
                 measure: Measure) -> list[DivisorPoint]:
    """Per model: the uniform multiplier at ``share`` of the seed's parameters, once per channel divisor (the
    search's ``multiple``), each timed at every size and batch: the measured effect of hardware-friendly widths
    at (nearly) equal parameters. A divisor whose smallest widths already exceed the budget is left out."""
    from morph.resources import graph_cost
    from morph.search import graph_cost_fn, width_multiplier_search
    from morph.widths import group_widths

    out = []
    for spec, model, graphs in _seeds(settings):
        first = graphs[settings.sizes[0]]
        budget = share * graph_cost(first, None, "params_exact")
        for d in divisors:
            try:
                found = width_multiplier_search(group_widths(first), budget, graph_cost_fn(first, "params_exact"),
                                                multiple=d if d > 1 else None)
            except MorphError:  # one multiple per group already exceeds the budget: nothing to compare
                continue
            jobs = _jobs(spec, d, model, graphs, found.widths, settings)
            out += [DivisorPoint(d, int(found.cost), p)
                    for p in measure_jobs(jobs, devices, measure, rounds=settings.rounds)]
    return out


def divisor_table(points: Sequence[DivisorPoint]) -> pd.DataFrame:
    """One row per (model, size, batch, divisor): parameters, measured and predicted ms, speed-up over divisor 1."""
    at = {(d.point.model, d.point.size, d.point.batch, d.divisor): d.point.measured_s for d in points}
    rows = []
    for d in points:
        p = d.point
        base = at.get((p.model, p.size, p.batch, 1), float("nan"))
        rows.append({"model": p.model, "size": p.size, "batch": p.batch, "divisor": d.divisor, "params": d.params,
                     "measured ms": p.measured_s * 1e3, "speed-up vs 1": base / p.measured_s,
                     **{f"{k} ms": v * 1e3 for k, v in p.predicted_s.items()}})
    return pd.DataFrame(rows).sort_values(["model", "size", "batch", "divisor"], kind="mergesort")


def metrics(measured: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """n, share within ±10 %, MAPE and Spearman ρ of predictions against measurements."""
    m, p = np.asarray(measured, dtype=float), np.asarray(predicted, dtype=float)
    rel = np.abs(p - m) / m
    rho = float(spearmanr(m, p).statistic) if len(m) > 2 else float("nan")
    return {"n": int(len(m)), "within_10": float((rel <= 0.1).mean()), "mape": float(rel.mean()), "spearman": rho}


def points_frame(points: Sequence[Point], rescale: Sequence[str] = ()) -> pd.DataFrame:
    """Long table: one row per (point, predictor); ``rescale`` devices get a second, median-rescaled predictor."""
    rows = [{**{k: v for k, v in asdict(p).items() if k != "predicted_s"}, "predictor": d, "predicted_s": s}
            for p in points for d, s in p.predicted_s.items()]
    df = pd.DataFrame(rows)
    for d in rescale:
        sub = df[df["predictor"] == d]
        ratio = float(np.median(sub["measured_s"] / sub["predicted_s"]))
        df = pd.concat([df, sub.assign(predictor=f"{d} × {ratio:.3g} (rescaled)",
                                       predicted_s=sub["predicted_s"] * ratio)], ignore_index=True)
    return df


def summary(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Metrics per predictor (and per ``by`` columns)."""
    keys = [*by, "predictor"]
    order = {p: i for i, p in enumerate(dict.fromkeys(df["predictor"]))}  # predictors in the order given
    groups = sorted(df.groupby(keys, sort=False), key=lambda kg: (*kg[0][:-1], order[kg[0][-1]]))
    rows = [{**dict(zip(keys, k)), **metrics(g["measured_s"], g["predicted_s"])} for k, g in groups]
    return pd.DataFrame(rows)


def render_markdown(df: pd.DataFrame, settings: CheckSettings, context: Mapping[str, Any], figure: str,
                    divisors: Sequence[DivisorPoint] = (), share: float | None = None) -> str:
    """``reports/latency.md``: settings, overall metrics per predictor, per model and batch, the scatter, and the
    channel-divisor comparison when measured."""
    fmt = lambda t: t.to_markdown(index=False, floatfmt=".3g")  # noqa: E731
    env = ", ".join(f"{k}: {v}" for k, v in context.items())
    tail = [] if not divisors else [
        "## Hardware-friendly widths", "",
        f"The uniform width multiplier at {share:g} of each seed model's parameters, with every width a multiple "
        "of the divisor (1: no rounding); speed-up = measured latency at divisor 1 / at this divisor.", "",
        fmt(divisor_table(divisors)), ""]
    return "\n".join([
        "# Latency prediction accuracy", "",
        f"{settings.variants} random-width variants of each of {', '.join(f'`{m}`' for m in settings.models)}, "
        f"at input sizes {', '.join(map(str, settings.sizes))} and batch {', '.join(map(str, settings.batches))}: "
        "predicted end-to-end latency (the latency resource's graph cost) against the median of timed runs"
        + (f" (the median of {settings.rounds} passes over all variants)" if settings.rounds > 1 else "") + ". "
        "within ±10 %: nn-Meter's accuracy measure; MAPE: mean absolute percentage error; Spearman: rank "
        "correlation.", "", f"Measured on {env}.", "",
        "## All variants", "", fmt(summary(df)), "",
        "## Per model and batch", "", fmt(summary(df, ["model", "batch"])), "",
        f"![predicted vs measured]({figure})", "", *tail,
    ])


def scatter(df: pd.DataFrame) -> Any:
    """Predicted vs measured (log–log), one colour per predictor, with y = x and the ±10 % band."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for name, g in df.groupby("predictor", sort=False):
        ax.scatter(g["measured_s"] * 1e3, g["predicted_s"] * 1e3, s=8, alpha=0.7, label=name)
    lo = float(min(df["measured_s"].min(), df["predicted_s"].min()) * 1e3)
    hi = float(max(df["measured_s"].max(), df["predicted_s"].max()) * 1e3)
    line = np.geomspace(lo, hi, 50)
    ax.plot(line, line, color="black", lw=0.8, label="predicted = measured")
    ax.fill_between(line, line * 0.9, line * 1.1, color="grey", alpha=0.2, label="±10 %")
    ax.set(xscale="log", yscale="log", xlabel="measured latency (ms)", ylabel="predicted latency (ms)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_report(points: Sequence[Point], settings: CheckSettings, context: Mapping[str, Any], out: Path,
                 rescale: Sequence[str] = (), divisors: Sequence[DivisorPoint] = (),
                 share: float | None = None) -> list[Path]:
    """``out/latency.md``, ``out/figures/latency-scatter.png`` and the points as ``out/latency-points.csv``."""
    from bench.report.figures import plot_style
    from bench.report.render import save_png
    from bench.store._atomic import atomic_write

    if not points:
        raise BenchError("latency check: no points measured")
    df = points_frame(points, rescale)
    with plot_style():
        png = save_png(scatter(df), out / "figures" / "latency-scatter.png")
    md = out / "latency.md"
    text = render_markdown(df, settings, context, "figures/latency-scatter.png", divisors, share)
    atomic_write(md, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    csv = out / "latency-points.csv"
    atomic_write(csv, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))
    return [md, png, csv]
