"""Markdown and PNG output: per-suite reports, the index, and the A/B comparison.

Why all writing lives here: tables and figures stay pure and testable; this module alone decides formats,
file names and byte-level determinism (Agg canvas, ``metadata={"Software": None}``, fixed rc, sorted rows).
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.report import figures
from bench.report._format import fmt_delta, fmt_p, fmt_ratio, markdown_table, sig_decimals
from bench.report._groups import grouped, natural_key, prepare
from bench.report._learning import learn_health
from bench.report.sections import BLOG_COMPARISON, BLOG_FRAGMENT, index_sections
from bench.report.tables import create_table
from bench.report.tables.compare import compare_table, paired_quality, unmatched_table

CONVENTIONS = (
    "**Conventions.** Parameters: trainable parameters. FLOPs: 2 × fvcore MACs (one multiply-add = 2 FLOPs). "
    "Latency: median of all timed batch-1 forward passes after warm-up, in ms, on the device in the row name; "
    "one run shows its interquartile range as [IQR …], several seeds the mean ± 95% interval of their medians. "
    "Train time: wall-clock seconds of the stage's own training (base training, or fine-tuning after shrinking or "
    "expanding). Acc.: pixel accuracy; Dice: foreground Dice over the whole split. Cells: mean ± half-width of the "
    "95% Student-t interval over seeds (t₀.₉₇₅,ₙ₋₁ · s / √n, sample std s); no ± for one run or when all runs "
    "agree; \"(k/n ok)\" when some runs failed or diverged. Paired comparisons (MorphNet vs uniform, the blog's "
    "conclusions, `bench compare`): Δ with a 95% percentile interval from a paired stratified bootstrap (2000 "
    "resamples, fixed generator) that draws seeds with replacement and, within each drawn seed, its evaluation "
    "images with replacement (pooled Dice of the drawn images), P(A > B) = the share of paired seeds where A scored "
    "higher (ties ½), and n = seeds × images (\"?\" where the records kept no per-image counts: then only seeds "
    "are resampled). \"ahead\"/\"behind\" only when the interval excludes 0 with ≥ 2 seeds, else \"no "
    "difference shown\"; a one-seed result is labelled \"one seed\" and is never a verdict. "
    "Columns follow the blog: Shrunk/Expanded are MorphNet iteration 1, Shrunk 1/Expanded 1 iteration 2, and so "
    "on; \"Uniform (same budget)\" is the width-multiplier baseline scaled to the same budget. Structure-learning "
    "stages are not columns; their γ histograms are figures."
)


def save_png(fig: Figure, path: Path) -> Path:
    """Save through the Agg canvas with no software/date metadata: same figure, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


def _split(table: pd.DataFrame, group: str) -> pd.DataFrame:
    part = table[table["Group"] == group].drop(columns="Group")
    return part[[c for c in part.columns if (part[c] != "").any()]]


def suite_markdown(df: pd.DataFrame, suite: str, figures_dir: Path | None = None, link_root: Path | None = None,
                   ) -> str:
    """The report of one suite; with ``figures_dir`` its PNGs are drawn there and linked relative to
    ``link_root`` (the folder of the markdown file)."""
    stages, widths = create_table("stages", df), create_table("widths", df)
    data = prepare(df)
    lines = [f"# Suite `{suite}`", "", "Rendered by `bench report` from stored records; the same records give the "
             "same bytes.", "", "## Setup", "", markdown_table(create_table("setup", df)), "", CONVENTIONS, "",
             "## Results by case group", ""]
    used: set[str] = set()
    for group, rows in grouped(data):
        seeds = sorted({int(s) for s in rows["seed"] if s == s and s is not None})
        lines += [f"### {group}", "", f"Seeds: {', '.join(map(str, seeds)) or '–'}.", ""]
        if (stages["Group"] == group).any():
            lines += [markdown_table(_split(stages, group)), ""]
        if (widths["Group"] == group).any():
            lines += ["Alive widths per layer (Table 4 of the blog; U-Net blocks as conv0/conv1):", "",
                      markdown_table(_split(widths, group)), ""]
        if (health := learn_health(rows)) is not None:
            lines += ["Structure learning kept the network alive?", "", health, ""]
        if figures_dir is not None:
            name = _unique(slug(group), used)
            with figures.plot_style():
                for kind, fig in (("widths", figures.widths_figure(rows, f"{suite}: {group}")),
                                  ("gamma", figures.histogram_figure(rows, f"{suite}: {group}"))):
                    if fig is not None:
                        path = save_png(fig, figures_dir / f"{name}-{kind}.png")
                        lines += [f"![{kind} of {group}]({_rel(path, link_root)})", ""]
    if figures_dir is not None:
        points = figures.pareto_points(df)
        if len(points):
            with figures.plot_style():
                path = save_png(figures.pareto_figure(points, f"{suite}: Val Dice vs cost"), figures_dir / "pareto.png")
            lines += ["## Pareto front", "", "Val Dice (mean ± std over seeds) against parameters and FLOPs; "
                      "MorphNet stages and the uniform baseline; dashed: the frontier over all points.", "",
                      f"![Pareto front of {suite}]({_rel(path, link_root)})", ""]
    lines += _method_sections(df, suite, figures_dir, link_root)
    lines += ["## All records", "", create_table("summary", df).to_markdown(index=False, floatfmt=".4g"), ""]
    return "\n".join(lines)


def _method_sections(df: pd.DataFrame, suite: str, figures_dir: Path | None, link_root: Path | None) -> list[str]:
    """Where several methods reached the same budgets: the ranking per budget and each method's front."""
    from bench.report import _ranking

    points = _ranking.front_points(df)
    ranking = _ranking.render(df)
    if ranking is None or points.groupby("budget")["arm"].nunique().max() < _ranking.MIN_METHODS:
        return []  # variants of one or two methods: the case groups above already compare them
    lines = ["## Method ranking at each budget", "", ranking, ""]
    if figures_dir is None or not len(points):
        return lines
    lines += ["## Pareto front per method", "", "Each method's final model (MorphNet's Expanded, a baseline's "
              "fine-tuned Pruned model, the uniform multiplier) at each budget of the ranking above: val quality "
              "with its 95% stratified-bootstrap interval against parameters and FLOPs, one figure per profile "
              "(data set).", ""]
    for profile, at in sorted(points.groupby("profile"), key=lambda kv: (kv[0] != "quick", kv[0])):
        tag = "" if profile in ("", "quick") else f"-{slug(str(profile))}"
        title = f"{suite}" + (f" [{profile}]" if tag else "") + ": each method's deliverable per budget"
        with figures.plot_style():
            path = save_png(figures.method_front_figure(at, title), figures_dir / f"methods-front{tag}.png")
        lines += [f"![Pareto front per method of {suite}{f' [{profile}]' if tag else ''}]({_rel(path, link_root)})",
                  ""]
    return lines


def _unique(name: str, used: set[str]) -> str:
    candidate, k = name, 1
    while candidate in used:
        k += 1
        candidate = f"{name}-{k}"
    used.add(candidate)
    return candidate


def _rel(path: Path, root: Path | None) -> str:
    return (path.relative_to(root) if root is not None else path).as_posix()


def suites(df: pd.DataFrame) -> list[str]:
    return sorted(set(df["suite"]), key=natural_key) if len(df) else []


def reports_text(df: pd.DataFrame) -> str:
    """Every suite's report, one after the other, without figures (for stdout)."""
    return "\n".join(suite_markdown(df[df["suite"] == s], s) for s in suites(df))


def write_reports(df: pd.DataFrame, out: Path, extra_sections: Mapping[str, str] | None = None) -> list[Path]:
    """``out/<suite>.md`` per suite, PNGs under ``out/figures/<suite>/``, and ``out/index.md``; returns the
    markdown files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suite in suites(df):
        name = slug(suite)
        shutil.rmtree(out / "figures" / name, ignore_errors=True)  # the suite's figures are all redrawn: no stale PNGs
        text = suite_markdown(df[df["suite"] == suite], suite, out / "figures" / name, out)
        written.append(_write(out / f"{name}.md", text))
    written.append(_write(out / "index.md", index_markdown(df, out, extra_sections)))
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def index_markdown(df: pd.DataFrame, out: Path, extra_sections: Mapping[str, str] | None = None) -> str:
    """A table linking every suite report, then the registered/extra sections (e.g. "Blog vs this run")."""
    rows = []
    for suite in suites(df):
        part = df[df["suite"] == suite]
        counts = part["status"].value_counts()
        archive = f"records/{suite}.jsonl"  # written by bench.api.write_report beside the reports
        count = f"[{len(part)}]({archive})" if (out / archive).is_file() else str(len(part))
        rows.append({"Suite": f"[{suite}]({slug(suite)}.md)", "Cases": str(part["case_id"].nunique()),
                     "Records": count, "Status": ", ".join(f"{k} {counts[k]}" for k in sorted(counts.index))})
    table = pd.DataFrame(rows, columns=["Suite", "Cases", "Records", "Status"])
    lines = ["# morph-bench reports", "", markdown_table(table), ""]
    sections = index_sections(df, extra_sections)
    if (out / BLOG_FRAGMENT).is_file() and all(title != BLOG_COMPARISON for title, _ in sections):
        sections.insert(0, (BLOG_COMPARISON, f"See [{BLOG_FRAGMENT}]({BLOG_FRAGMENT})."))
    for title, body in sections:
        lines += [f"## {title}", "", body, ""]
    return "\n".join(lines)


def compare_markdown(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str) -> str:
    """A and B side by side: their setups, then per (suite, case, stage) and metric A, B, B − A and B / A."""
    lines = ["# Comparison", "", f"A: `{name_a}`; B: `{name_b}`. Records are matched by (suite, case label, "
             "stage); Δ = B − A, ratio = B / A. Units as in `bench report` (FLOPs = 2 × fvcore MACs; latency = "
             "median ms).", ""]
    sa, sb = create_table("setup", a), create_table("setup", b)
    setup = pd.DataFrame({"Setting": sa["Setting"], "A": sa["Value"], "B": sb["Value"],
                          "Same": ["yes" if x == y else "no" for x, y in zip(sa["Value"], sb["Value"])]})
    lines += ["## Setup", "", markdown_table(setup), ""]
    table = compare_table(a, b)
    cells = pd.DataFrame({c: table[c] for c in ["Suite", "Case", "Stage", "Metric"]})
    for col in ("A", "B", "Delta"):
        cells[col if col != "Delta" else "Δ (B − A)"] = [_number(v, m, r) for v, m, r in
                                                         zip(table[col], table["Metric"], table["A"])]
    cells["B / A"] = [fmt_ratio(v) for v in table["Ratio"]]
    lines += ["## Matched records", "", markdown_table(cells) if len(cells) else "No records match.", ""]
    paired = paired_quality(a, b)
    if paired:
        quality = pd.DataFrame([{"Suite": r["Suite"], "Case group": r["Group"], "Stage": r["Stage"],
                                 "Metric": r["Metric"], "Δ (B − A) [95% CI]": fmt_delta(r["comparison"]),
                                 "P(B > A)": fmt_p(r["comparison"]), "n (seeds×images)": r["comparison"].n,
                                 "Verdict (B)": r["comparison"].verdict} for r in paired])
        lines += ["## Quality, paired over seeds", "", "B − A per case group (the case label without its seed), "
                  "paired on the seeds both ran and, where both kept per-image counts, on the evaluation images: "
                  "the 95% interval is a paired stratified bootstrap (seeds, then images within each seed), "
                  "P(B > A) the share of paired seeds where B scored higher. \"ahead\"/\"behind\" (B against A) "
                  "only when the interval excludes 0 with ≥ 2 seeds; \"one seed\" is never a verdict.", "",
                  markdown_table(quality), ""]
    unmatched = unmatched_table(a, b)
    if len(unmatched):
        lines += ["## Not compared (missing or not ok on one side)", "", markdown_table(unmatched), ""]
    return "\n".join(lines)


def _number(value: float, metric: str, ref: float) -> str:
    """Counts as integers with separators; Dice/Acc. to 4 decimals; times to 3 significant digits of A."""
    if not math.isfinite(value):
        return "–"
    if metric in ("Parameters", "FLOPs"):
        return f"{value:,.0f}"
    if "Dice" in metric or "Acc." in metric:
        return f"{value:.4f}"
    return f"{value:.{sig_decimals(ref)}f}"

