"""Figures as matplotlib ``Figure`` objects (no pyplot, no display): Pareto fronts, widths per layer, γ histograms.

Why separate from saving: these functions only draw; :mod:`bench.report.render` saves them through Agg with fixed
metadata. Call them inside :func:`plot_style` so a user's matplotlibrc cannot change the bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import matplotlib
import matplotlib.style
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, NullFormatter

from bench.report._format import mean_std
from bench.report._groups import layer_order, natural_key, prepare, recorded_order, sorted_stages

_RC = {"svg.hashsalt": "morph-bench", "figure.dpi": 100, "savefig.dpi": 100, "font.size": 8}
_MARKERS = {"base": "*", "shrink": "v", "expand": "^", "uniform": "s"}
_Y = "metrics.val.dice"


@contextmanager
def plot_style() -> Iterator[None]:
    """Matplotlib's defaults plus fixed dpi, font size and SVG hash salt, whatever the user's rc says."""
    with matplotlib.style.context("default"), matplotlib.rc_context(_RC):
        yield


def pareto_points(df: pd.DataFrame) -> pd.DataFrame:
    """One point per (group, model stage): mean params, FLOPs and Val Dice over ok seeds, Dice std and n."""
    data = prepare(df, attach_uniform=False)
    cols = ["group", "stage", "stage_label", "params", "flops", "dice", "dice_std", "n"]
    if data.empty or _Y not in data:
        return pd.DataFrame(columns=cols)
    data = data[(data["status"] == "ok") & (data["stage"] != "learn")]
    rows = []
    for (group, label, stage), r in data.groupby(["group", "stage_label", "stage"], sort=False):
        dice, std, n = mean_std(list(r[_Y]))
        if n:
            rows.append({"group": group, "stage": stage, "stage_label": label, "params": float(r["params"].mean()),
                         "flops": float(r["flops"].mean()), "dice": dice, "dice_std": std, "n": n,
                         "_rank": (natural_key(group), r["stage_rank"].iloc[0])})
    out = pd.DataFrame(rows, columns=[*cols, "_rank"])
    out = out.iloc[sorted(range(len(out)), key=lambda i: out["_rank"].iloc[i])]
    return out[cols].reset_index(drop=True)


def frontier(points: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The Pareto-optimal points (cheaper, or better Dice than every cheaper point), sorted by cost."""
    ordered = points.sort_values([cost, "dice"], ascending=[True, False], kind="mergesort")
    best, keep = -math.inf, []
    for idx, dice in zip(ordered.index, ordered["dice"]):
        if dice > best:
            best, keep = dice, [*keep, idx]
    return ordered.loc[keep]


def pareto_figure(points: pd.DataFrame, title: str) -> Figure:
    """Val Dice vs params and vs FLOPs (log x): colour = case group, marker = stage kind, dashed = frontier."""
    groups = sorted(set(points["group"]), key=natural_key)
    # long case-group labels: legend below the plots (one row per entry) instead of a right column that squeezes
    # the axes to nothing
    wide = max(len(str(g)) for g in groups) > 40
    n_entries = len(groups) + len(_MARKERS) + 1
    fig = Figure(figsize=(9, 3.6 + (0.16 * n_entries if wide else 0.0)), layout="constrained")
    colours = {g: f"C{i % 10}" for i, g in enumerate(groups)}
    for ax, cost, name in zip(fig.subplots(1, 2), ("params", "flops"), ("Parameters", "FLOPs (2 × MACs)")):
        for _, p in points.iterrows():
            ax.errorbar(p[cost], p["dice"], yerr=0 if math.isnan(p["dice_std"]) else p["dice_std"],
                        marker=_MARKERS.get(p["stage"], "o"), color=colours[p["group"]], markersize=7, capsize=2)
        front = frontier(points, cost)
        if len(front):
            ax.step(front[cost], front["dice"], where="post", color="0.4", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        narrow = len(points) and points[cost].max() < 10 * points[cost].min()
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.xaxis.set_minor_formatter(EngFormatter(sep="") if narrow else NullFormatter())
        ax.set_xlabel(name)
        ax.set_ylabel("Val Dice")
        ax.grid(True, which="both", alpha=0.3)
    handles = [Line2D([], [], color=colours[g], marker="o", linestyle="", label=g) for g in groups]
    handles += [Line2D([], [], color="0.3", marker=m, linestyle="", label=s) for s, m in _MARKERS.items()]
    handles.append(Line2D([], [], color="0.4", linestyle="--", label="frontier"))
    fig.legend(handles=handles, loc="outside lower center" if wide else "outside right upper", fontsize=7)
    fig.suptitle(title)
    return fig


def method_front_figure(points: pd.DataFrame, title: str) -> Figure:
    """Val quality of each method's deliverable against params and FLOPs (log x), one colour per method, with
    its 95% interval; a line joins a method's points at the budgets of one resource (filled markers: the first
    resource, parameters where there are any; hollow: the others, e.g. a FLOPs budget). ``points``: one
    profile's rows of :func:`bench.report._ranking.front_points`."""
    arms = sorted(set(points["arm"]), key=natural_key)
    resources = sorted(set(points["resource"]), key=lambda r: (r != "params", natural_key(r)))  # params filled
    metric = str(points["metric"].iloc[0]) if len(points) else "dice"
    fig = Figure(figsize=(9, 3.8 + 0.16 * (len(arms) // 2 + 1)), layout="constrained")
    style = {a: (f"C{i % 10}", "osD^v<>p"[i // 10 % 8]) for i, a in enumerate(arms)}
    for ax, cost, name in zip(fig.subplots(1, 2), ("params", "flops"), ("Parameters", "FLOPs (2 × MACs)")):
        for (arm, resource), at in points.groupby(["arm", "resource"], sort=False):
            at = at.sort_values(cost)
            colour, marker = style[arm]
            filled = resource == resources[0]
            low = (at["val"] - at["low"]).fillna(0).clip(lower=0)
            high = (at["high"] - at["val"]).fillna(0).clip(lower=0)
            ax.errorbar(at[cost], at["val"], yerr=[low, high], color=colour, marker=marker, markersize=6, capsize=2,
                        linestyle="-" if filled else "", linewidth=1,
                        markerfacecolor=colour if filled else "none")
        ax.set_xscale("log")
        narrow = len(points) and points[cost].max() < 10 * points[cost].min()
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.xaxis.set_minor_formatter(EngFormatter(sep="") if narrow else NullFormatter())
        ax.set_xlabel(name)
        ax.set_ylabel(f"Val {metric.capitalize()} [95% CI]")
        ax.grid(True, which="both", alpha=0.3)
    handles = [Line2D([], [], color=style[a][0], marker=style[a][1], label=a) for a in arms]
    handles += [Line2D([], [], color="0.3", marker="o", linestyle="", label=f"{r} budget",
                       markerfacecolor="0.3" if r == resources[0] else "none") for r in resources]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=7)
    fig.suptitle(title)
    return fig


def widths_figure(df: pd.DataFrame, title: str) -> Figure | None:
    """Alive width of every layer (data-flow order) per model stage, mean over seeds; None without widths."""
    data = df[(df["status"] == "ok") & (df["stage"] != "learn")]
    widths = [w for w in data.get("widths", []) if isinstance(w, Mapping)]
    if not widths:
        return None
    layers = layer_order(sorted({n for w in widths for n in w}), recorded_order(data))
    # rotated layer names take height: smp names (≈40 characters) would otherwise squeeze the axes to nothing
    height = max(3.6, 2.4 + 0.08 * max(len(n) for n in layers))
    fig = Figure(figsize=(max(6.0, 0.35 * len(layers) + 2), height), layout="constrained")
    ax = fig.subplots()
    for i, stage in enumerate(sorted_stages(data)):
        rows = [w for w in data.loc[data["stage_label"] == stage, "widths"] if isinstance(w, Mapping)]
        means = [mean_std([w.get(n) for w in rows])[0] for n in layers]
        ax.plot(range(len(layers)), means, marker="o", markersize=3, label=stage, color=f"C{i % 10}")
    ax.set_xticks(range(len(layers)), layers, rotation=90)
    ax.set_ylabel("alive width (channels)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title)
    return fig


def histogram_figure(df: pd.DataFrame, title: str) -> Figure | None:
    """The γ/norm histogram of each structure-learning stage, one outline per seed (seeds have their own bin
    edges), with the pruning threshold; None when no learn record has a histogram."""
    learn = df[(df["status"] == "ok") & (df["stage"] == "learn")]
    panels = []
    for stage in sorted_stages(learn) if len(learn) else []:
        rows = learn[learn["stage_label"] == stage].sort_values("seed", kind="mergesort")
        hists = [(seed, h) for seed, h in zip(rows["seed"], rows["histogram"]) if isinstance(h, Mapping)]
        if hists:
            panels.append((stage, hists))
    if not panels:
        return None
    fig = Figure(figsize=(3.2 * len(panels) + 0.5, 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    thresholds = sorted({float(t) for t in learn.get("config.morph.threshold", []) if t == t and t})
    for ax, (stage, hists) in zip(axes, panels):
        scale, of = hists[0][1].get("scale"), hists[0][1].get("of", "strength")
        for i, (seed, hist) in enumerate(hists):
            ax.stairs(hist["counts"], hist["edges"], color=f"C{i % 10}", label=f"seed {seed} (n={hist.get('n')})")
        for t in thresholds:
            ax.axvline(math.log10(t) if scale == "log10" else t, color="0.2", linestyle="--", linewidth=1,
                       label=f"threshold {t:g}")
        ax.set_xlabel(f"{'log10 ' if scale == 'log10' else ''}{of}")
        ax.set_ylabel("channels")
        ax.set_title(stage.replace("Learn", "structure learning"), fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle(title)
    return fig
