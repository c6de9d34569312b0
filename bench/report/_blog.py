"""The "Blog vs this run" section: the blog's published numbers next to ours, and its conclusions checked.

Why a module of its own: the blog's numbers are data (hard-coded from morph-u-net-blog.md, each row citing its
table), and each conclusion is a small computation on the records with a stated rule, so that it can be tested
on a hand-made frame both ways. Pandas only (reports render without torch).

Which of our cases stands for which blog table (by settings, so labels may change):
- Table 1: suite ``regularizers``, method blog, group lasso, threshold 1e-4 (the weak setting);
- Table 2: suites ``regularizers`` then ``layers`` (it runs the second iteration on quick), method blog, group
  lasso, threshold 1e-3 (the strong setting);
- Table 3: suite ``symmetry``, method morphnet, the shrunk model of iteration 1 at each symmetry level;
- Table 5: suite ``one_conv``, model unet_one_conv, method blog, threshold 1e-3 (A) and 1e-2 (B).
Cases with ``index_shift_bug`` are left out of the stage table (they exist to reproduce widths). Where both
profiles' records are loaded, the full profile's are shown.

Every conclusion carries Δ, its 95% interval, P(A > B) and n (:mod:`bench.stats`), and is decided on the interval;
records of a single seed read "one seed (no verdict)", with what the rule would say on that seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.report._format import fmt_comparison, fmt_count, fmt_fixed, markdown_rows
from bench.report._groups import data_label, group_label, layer_order
from bench.stats import Comparison, compare, evaluations
from bench.store.records import is_missing as _missing

#: A spread of val Dice across symmetry levels up to this much (or twice the seed-to-seed std) is "no effect".
DICE_TOLERANCE = 0.02
#: Gamma-L1 "fails" when at most this share of the γ ends below the threshold after structure learning.
DEAD_FAILS = 0.05
#: "Later layers shrink more" holds when the last conv kept less than the first in at least this share of cases.
LATER_SHARE = 2 / 3
#: One-conv and double-conv models count as "similar size" within this parameter ratio.
SIZE_RATIO = 1.5
BLOG_SOURCE = "shared/reference/morph-u-net-blog.md"

HOLDS, FAILS, NOT_RUN = "holds", "does not hold", "not run"
ONE_SEED, UNDECIDED = "one seed (no verdict)", "not shown either way"


@dataclass(frozen=True)
class BlogRow:
    table: str
    stage: str  # our stage label (bench.report._groups.stage_label), or "Level k" for Table 3
    params: float
    val_dice: float


#: The blog's published numbers (rounded as printed there).
BLOG_ROWS: tuple[BlogRow, ...] = (
    # Table 1: group lasso, weak (λ 1e-10, thr 1e-4), 20M cap
    BlogRow("Table 1 (weak GL)", "Base", 31.0e6, 0.87),
    BlogRow("Table 1 (weak GL)", "Shrunk", 10.0e6, 0.87),
    BlogRow("Table 1 (weak GL)", "Expanded", 20.0e6, 0.87),
    BlogRow("Table 1 (weak GL)", "Shrunk 1", 6.0e6, 0.86),
    BlogRow("Table 1 (weak GL)", "Expanded 1", 19.0e6, 0.87),
    # Table 2: group lasso, strong (λ 1e-3, thr 1e-3), 3M cap
    BlogRow("Table 2 (strong GL)", "Base", 31.0e6, 0.87),
    BlogRow("Table 2 (strong GL)", "Shrunk", 1.3e6, 0.84),
    BlogRow("Table 2 (strong GL)", "Expanded", 3.0e6, 0.86),
    BlogRow("Table 2 (strong GL)", "Shrunk 1", 1.4e6, 0.85),
    BlogRow("Table 2 (strong GL)", "Expanded 1", 3.0e6, 0.86),
    # Table 3: the shrunk model at symmetry levels 1–3
    BlogRow("Table 3 (symmetry)", "Level 1", 5_492_792, 0.87),
    BlogRow("Table 3 (symmetry)", "Level 2", 13_307_525, 0.86),
    BlogRow("Table 3 (symmetry)", "Level 3", 13_947_718, 0.87),
    # Table 5: one conv per level; A = λ 1e-3 / thr 1e-3, B = λ 1e-2 / thr 1e-2
    BlogRow("Table 5 (one conv)", "Base", 15.0e6, 0.86),
    BlogRow("Table 5 (one conv)", "Shrunk A", 3.2e6, 0.86),
    BlogRow("Table 5 (one conv)", "Expanded A", 5.7e6, 0.86),
    BlogRow("Table 5 (one conv)", "Shrunk B", 0.75e6, 0.84),
    BlogRow("Table 5 (one conv)", "Expanded B", 1.7e6, 0.85),
)
_BLOG_BASE = {"Table 1 (weak GL)": 31.0e6, "Table 2 (strong GL)": 31.0e6, "Table 3 (symmetry)": 31.0e6,
              "Table 5 (one conv)": 15.0e6}
_STAGE = re.compile(r"^(Base|Shrunk|Expanded)(?: (\d+))?$")


# ----------------------------------------------------------------------------------------------- helpers


def _get(row: Mapping[str, Any] | pd.Series, key: str, default: Any = None) -> Any:
    value = row.get(key, default) if hasattr(row, "get") else default
    return default if _missing(value) else value


def _close(a: Any, b: float) -> bool:
    return not _missing(a) and math.isclose(float(a), b, rel_tol=1e-6)


def _profile(row: pd.Series) -> str:
    extra = row.get("extra")
    return str(extra.get("profile", "")) if isinstance(extra, Mapping) else ""


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    out = df[df["status"] == "ok"] if "status" in df else df
    return out.copy()


def _col(df: pd.DataFrame, key: str) -> pd.Series:
    return df[key] if key in df else pd.Series([None] * len(df), index=df.index, dtype=object)


def _mask(df: pd.DataFrame, values: Sequence[bool]) -> pd.Series:
    return pd.Series(list(values), index=df.index, dtype=bool)


def _prefer_full(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return rows
    profiles = rows.apply(_profile, axis=1)
    return rows[profiles == "full"] if (profiles == "full").any() else rows


def _dice(values: Sequence[Any]) -> str:
    return fmt_fixed([v for v in values if not _missing(v)], 3)  # mean ± 95% interval over seeds


def _share(part: float, whole: float) -> str:
    return f" ({100 * part / whole:.0f}%)" if whole and math.isfinite(part) and math.isfinite(whole) else ""


# ----------------------------------------------------------------------------------- the numbers, side by side


def _stage_rows(rows: pd.DataFrame, stage_label: str) -> pd.DataFrame:
    """Records of one stage by the blog's label: "Base", "Shrunk" (it 1), "Expanded 1" (it 2), …"""
    m = _STAGE.match(stage_label)
    if not m or rows.empty:
        return rows.iloc[0:0]
    name = {"Base": "base", "Shrunk": "shrink", "Expanded": "expand"}[m.group(1)]
    it = int(m.group(2)) + 1 if m.group(2) else 1
    stage = rows["stage"] == name
    if name == "base":
        return rows[stage]
    iters = pd.to_numeric(rows["iteration"], errors="coerce")
    return rows[stage & (iters == it)]


def _blog_case(df: pd.DataFrame, suites: Sequence[str], threshold: float, source: str = "group_lasso",
               model: str | None = None) -> list[pd.DataFrame]:
    out = []
    for suite in suites:
        thr = _mask(df, [_close(t, threshold) for t in _col(df, "config.morph.threshold")])
        shift = _mask(df, [not _missing(b) and bool(b) for b in _col(df, "config.morph.index_shift_bug")])
        rows = df[(df["suite"] == suite) & (_col(df, "config.morph.method") == "blog")
                  & (_col(df, "config.morph.source") == source) & thr & ~shift]
        if model is not None:
            rows = rows[_col(rows, "config.model.name") == model]
        out.append(rows)
    return out


def _our_cell(candidates: list[pd.DataFrame], stage: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the stage's records, the same case group's base records) from the first candidate frame that has it."""
    for rows in candidates:
        hit = _prefer_full(_stage_rows(rows, stage))
        if not hit.empty:
            group = rows[rows["case_id"].isin(hit["case_id"])]
            return hit, _prefer_full(group[group["stage"] == "base"])
    empty = candidates[0].iloc[0:0] if candidates else pd.DataFrame()
    return empty, empty


def _symmetry_cell(df: pd.DataFrame, level: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = df[(df["suite"] == "symmetry") & (_col(df, "config.morph.method") != "uniform")
              & (pd.to_numeric(_col(df, "config.morph.symmetry"), errors="coerce") == level)]
    hit = _prefer_full(_stage_rows(rows, "Shrunk"))
    base = rows[(rows["stage"] == "base") & rows["case_id"].isin(hit["case_id"])]
    return hit, _prefer_full(base)


def _numbers_table(df: pd.DataFrame) -> str:
    one_conv = df[(df["suite"] == "one_conv") & (_col(df, "config.model.name") == "unet_one_conv")]
    a = _blog_case(one_conv, ["one_conv"], 1e-3)
    b = _blog_case(one_conv, ["one_conv"], 1e-2)
    cells: dict[str, Callable[[str], tuple[pd.DataFrame, pd.DataFrame]]] = {
        "Table 1 (weak GL)": lambda s: _our_cell(_blog_case(df, ["regularizers"], 1e-4), s),
        "Table 2 (strong GL)": lambda s: _our_cell(_blog_case(df, ["regularizers", "layers"], 1e-3), s),
        "Table 3 (symmetry)": lambda s: _symmetry_cell(df, int(s.split()[-1])),
        "Table 5 (one conv)": lambda s: (
            _our_cell(a + b, "Base") if s == "Base" else _our_cell(a if s.endswith("A") else b, s[:-2])),
    }
    rows = []
    for r in BLOG_ROWS:
        hit, base = cells[r.table](r.stage)
        blog = f"{fmt_count([r.params])}{_share(r.params, _BLOG_BASE[r.table])}"
        if hit.empty:
            ours = ["not run", "not run", ""]
        else:
            params = [float(p) for p in _col(hit, "params") if not _missing(p)]
            base_p = [float(p) for p in _col(base, "params") if not _missing(p)]
            mean_p = sum(params) / len(params) if params else math.nan
            mean_b = sum(base_p) / len(base_p) if base_p else math.nan
            where = sorted({f"{s}: {group_label(lab)}" for s, lab in zip(hit["suite"], hit["label"])})
            ours = [f"{fmt_count(params)}{_share(mean_p, mean_b)}", _dice(list(_col(hit, "metrics.val.dice"))),
                    "; ".join(where)]
        rows.append([r.table, r.stage, blog, f"{r.val_dice:.2f}", *ours])
    return markdown_rows(["Blog table", "Stage", "Blog params", "Blog val Dice", "Our params", "Our val Dice",
                          "Our case"], rows)


# ----------------------------------------------------------------------------------------------- conclusions


@dataclass(frozen=True)
class Verdict:
    claim: str
    status: str  # HOLDS, FAILS, UNDECIDED, ONE_SEED or NOT_RUN
    evidence: str


def _seeded(status: str, seeds: int, evidence: str) -> tuple[str, str]:
    """One seed is never a verdict: the status becomes ONE_SEED and the evidence says what the rule gave."""
    if seeds >= 2 or status == NOT_RUN:
        return status, evidence
    return ONE_SEED, f"{evidence} (on one seed the rule gives: {status})"


def _n_seeds(rows: pd.DataFrame) -> int:
    return int(pd.to_numeric(_col(rows, "seed"), errors="coerce").dropna().nunique())


def _by_interval(c: Comparison, low_ok: float, high_bad: float) -> str:
    """HOLDS when the whole interval is above ``low_ok``, FAILS when it is all below ``high_bad``, else undecided."""
    if c.low > low_ok:
        return HOLDS
    if c.high < high_bad:
        return FAILS
    return UNDECIDED


def _first_last(names: Sequence[str], recorded: Sequence[str] | None = None) -> tuple[str, str] | None:
    convs = [n for n in layer_order(list(names), recorded) if not n.startswith(("up", "fc"))]

    return (convs[0], convs[-1]) if len(convs) >= 2 else None


def later_layers_shrink_more(df: pd.DataFrame) -> Verdict:
    """Alive fraction of the last conv vs the first, after iteration 1's structure learning, per case under a
    model-size cost (U-Nets and the CIFAR CNN; smp backbones have no single first/last conv; a FLOPs cost makes
    the full-resolution first and last convs the expensive ones, which is another claim)."""
    claim = "Later layers shrink more (model-size cost)"
    ok = _ok(df)
    learn = ok[(ok["stage"] == "learn") & (pd.to_numeric(ok["iteration"], errors="coerce") == 1)
               & _col(ok, "config.model.name").isin(["unet", "unet_one_conv", "cifar_cnn", "encoder_decoder"])
               & ~_col(ok, "config.morph.resource").isin(["flops", "latency"])]  # the blog's claim: model size
    pairs: list[tuple[str, float, float]] = []
    for _, row in learn.iterrows():
        extra = row.get("extra") if isinstance(row.get("extra"), Mapping) else {}
        fractions = extra.get("fractions")
        if isinstance(fractions, Sequence) and len(fractions) >= 2:  # blog: named order, first … last conv
            pairs.append((f"{row['suite']}: {group_label(row['label'])}", float(fractions[0]), float(fractions[-1])))
            continue
        alive = row.get("widths")
        base = ok[(ok["case_id"] == row["case_id"]) & (ok["stage"] == "base")]
        seed = base.iloc[0]["widths"] if len(base) else None
        if not isinstance(alive, Mapping) or not isinstance(seed, Mapping):
            continue
        ends = _first_last([n for n in alive if n in seed], extra.get("layer_order"))
        if ends is None:
            continue
        first, last = ends
        pairs.append((f"{row['suite']}: {group_label(row['label'])}", alive[first] / seed[first],
                      alive[last] / seed[last]))
    if not pairs:
        return Verdict(claim, NOT_RUN, "no structure-learning records of a U-Net or the CIFAR CNN under a model-size cost")
    seeds: dict[str, list[tuple[float, float]]] = {}
    for name, f, l in pairs:  # one pair per case group: the mean over its seeds
        seeds.setdefault(name, []).append((f, l))
    pairs = [(name, sum(f for f, _ in v) / len(v), sum(l for _, l in v) / len(v)) for name, v in seeds.items()]
    later = sum(1 for _, f, l in pairs if l < f)
    # case groups are the paired units here: Δ = first − last alive fraction, resampled over groups
    c = compare({n: f for n, f, _ in pairs}, {n: l for n, _, l in pairs}, "fraction")
    status = (_by_interval(c, 0.0, 0.0) if len(pairs) > 1 else HOLDS if later else FAILS)
    if status != UNDECIDED and (later / len(pairs) >= LATER_SHARE) != (status == HOLDS):
        status = UNDECIDED  # the interval and the share rule disagree
    shown = "; ".join(f"{name} {f:.2f} → {l:.2f}" for name, f, l in pairs[:6])
    more = f"; … ({len(pairs) - 6} more)" if len(pairs) > 6 else ""
    ci = f" [95% CI {c.low:+.2f}, {c.high:+.2f}]" if len(pairs) > 1 else ""
    status, text = _seeded(status, _n_seeds(learn), (
        f"the last conv kept a smaller fraction than the first in {later} of {len(pairs)} cases (rule: ≥ "
        f"{LATER_SHARE:.0%} and a 95% interval of Δ above 0); Δ (first − last alive fraction) {c.delta:+.2f}{ci}, "
        f"P(first > last) {later / len(pairs):.2f}, n {len(pairs)} case groups × {max(_n_seeds(learn), 1)} "
        f"seed(s); first → last alive fraction: {shown}{more}"))
    return Verdict(claim, status, text)


def symmetry_does_not_matter(df: pd.DataFrame) -> Verdict:
    """Final val Dice (last expand) per symmetry level at one budget, spread vs max(0.02, 2 × seed std)."""
    claim = "The symmetry level does not matter"
    ok = _ok(df)
    rows = ok[(ok["suite"] == "symmetry") & (_col(ok, "config.morph.method") != "uniform")
              & (ok["stage"] == "expand")]
    rows = _prefer_full(rows)
    if rows.empty:
        return Verdict(claim, NOT_RUN, "no expanded models from the symmetry suite")
    rows = rows.assign(_it=pd.to_numeric(rows["iteration"], errors="coerce"),
                       _sym=pd.to_numeric(rows["config.morph.symmetry"], errors="coerce"))
    final = rows[rows["_it"] == rows.groupby("case_id")["_it"].transform("max")]
    by_level: dict[int, list[float]] = {}
    params: dict[int, list[float]] = {}
    for _, r in final.iterrows():
        dice = _get(r, "metrics.val.dice")
        if dice is not None:
            by_level.setdefault(int(r["_sym"]), []).append(float(dice))
            params.setdefault(int(r["_sym"]), []).append(float(_get(r, "params", math.nan)))
    if len(by_level) < 2:
        return Verdict(claim, NOT_RUN, f"only {len(by_level)} symmetry level(s) finished")
    means = {k: sum(v) / len(v) for k, v in by_level.items()}
    spread = max(means.values()) - min(means.values())
    hi, lo = max(means, key=means.get), min(means, key=means.get)  # type: ignore[arg-type]
    c = compare(evaluations(final[final["_sym"] == hi], "val", "dice"),
                evaluations(final[final["_sym"] == lo], "val", "dice"), "dice")
    # equal within the tolerance: the interval of the widest gap lies inside ±tolerance; a gap shown beyond it fails
    status = HOLDS if c.high <= DICE_TOLERANCE + 1e-9 else FAILS if c.low > DICE_TOLERANCE else UNDECIDED
    if c.seeds < 2:
        status = HOLDS if spread <= DICE_TOLERANCE + 1e-9 else FAILS
    levels = "; ".join(f"level {k}: Dice {means[k]:.3f}, {fmt_count(params[k])} params" for k in sorted(means))
    status, text = _seeded(status, c.seeds, (
        f"val Dice spread {spread:.3f} across levels (rule: the 95% interval of the widest gap within "
        f"{DICE_TOLERANCE}); level {hi} − level {lo}: {fmt_comparison(c)}; {levels}"))
    return Verdict(claim, status, text)


def one_conv_suffices(df: pd.DataFrame) -> Verdict:
    """One-conv vs double-conv U-Nets of similar size (parameter ratio ≤ 1.5) on the same data: mean Dice
    difference ≥ −0.02 holds."""
    claim = "One conv per level suffices"
    ok = _ok(df)
    ok = ok[ok["stage"] != "learn"]
    keys = ["config.data.name", "config.data.size", "config.data.count", "config.data.crop"]

    def groups(model: str) -> list[dict[str, Any]]:
        rows = ok[_col(ok, "config.model.name") == model]
        out = []
        for (_, _, stage, it), g in rows.groupby(
                [rows["suite"], rows["label"].map(group_label), rows["stage"], rows["iteration"].fillna(-1)]):
            dice = [float(d) for d in _col(g, "metrics.val.dice") if not _missing(d)]
            params = [float(p) for p in _col(g, "params") if not _missing(p)]
            if dice and params:
                first = g.iloc[0]
                out.append({"data": tuple(str(_get(first, k)) for k in keys), "dice": sum(dice) / len(dice),
                            "params": sum(params) / len(params), "evals": evaluations(g, "val", "dice"),
                            "name": f"{first['suite']}: {group_label(first['label'])} {stage}"})
        return out

    ones, doubles = groups("unet_one_conv"), groups("unet")
    pairs = []
    for one in ones:
        near = [d for d in doubles if d["data"] == one["data"]
                and max(d["params"], one["params"]) / min(d["params"], one["params"]) <= SIZE_RATIO]
        if near:
            best = min(near, key=lambda d: abs(math.log(d["params"] / one["params"])))
            pairs.append((one, best))
    if not pairs:
        return Verdict(claim, NOT_RUN, "no one-conv and double-conv U-Nets of similar size on the same data")
    diffs = [o["dice"] - d["dice"] for o, d in pairs]
    mean = sum(diffs) / len(diffs)
    tests = [compare(o["evals"], d["evals"], "dice") for o, d in pairs]
    seeds = min(c.seeds for c in tests)
    # not worse than the tolerance: every pair's interval above −tolerance; shown worse: one pair's all below it
    if any(_by_interval(c, -DICE_TOLERANCE, -DICE_TOLERANCE) == FAILS for c in tests):
        status = FAILS
    elif all(_by_interval(c, -DICE_TOLERANCE, -DICE_TOLERANCE) == HOLDS for c in tests):
        status = HOLDS
    else:
        status = UNDECIDED
    if seeds < 2:
        status = HOLDS if mean >= -DICE_TOLERANCE else FAILS
    shown = "; ".join(f"{fmt_count([o['params']])} one-conv {o['dice']:.3f} vs {fmt_count([d['params']])} "
                      f"double-conv {d['dice']:.3f}: {fmt_comparison(c)}" for (o, d), c in zip(pairs[:4], tests))
    status, text = _seeded(status, seeds, (
        f"mean val Dice difference (one − double conv) {mean:+.3f} over {len(pairs)} size-matched pairs (rule: "
        f"each pair's 95% interval above −{DICE_TOLERANCE}); {shown}"))
    return Verdict(claim, status, text)


def _dead_and_spread(row: pd.Series) -> tuple[float, float] | None:
    """(share of strengths below the threshold, p10–p90 width in decades) from a learn record's log histogram."""
    hist = row.get("histogram")
    thr = _get(row, "config.morph.threshold")
    if not isinstance(hist, Mapping) or thr is None:
        return None
    edges, counts = list(hist.get("edges", [])), list(hist.get("counts", []))
    n = sum(counts)
    if not n or len(edges) != len(counts) + 1:
        return None
    cut = math.log10(float(thr))
    dead = 0.0
    for lo, hi, c in zip(edges, edges[1:], counts):
        if hi <= cut:
            dead += c
        elif lo < cut:
            dead += c * (cut - lo) / (hi - lo)

    def quantile(q: float) -> float:
        seen = 0.0
        for lo, hi, c in zip(edges, edges[1:], counts):
            if c and seen + c >= q * n:
                return lo + (hi - lo) * (q * n - seen) / c
            seen += c
        return edges[-1]

    return dead / n, quantile(0.9) - quantile(0.1)


def gamma_fails_with_adam(df: pd.DataFrame) -> Verdict:
    """Share of dead γ after blog-method γ-L1 with Adam (≤ 5%: it fails), next to the proximal fix."""
    claim = "Gamma-L1 fails with Adam"
    ok = _ok(df)
    learn = ok[(ok["stage"] == "learn") & (_col(ok, "config.morph.source") == "gamma")]
    optim = [o if not _missing(o) else t for o, t in
             zip(_col(learn, "config.morph.optimizer"), _col(learn, "config.train.optimizer"))]
    adam = learn[(_col(learn, "config.morph.method") == "blog") & _mask(learn, [o == "adam" for o in optim])]
    proximal = _mask(learn, [not _missing(p) and bool(p) for p in _col(learn, "config.morph.proximal")])
    prox = learn[(_col(learn, "config.morph.method") == "morphnet") & proximal]

    def stats(rows: pd.DataFrame) -> tuple[float, float, int, dict[int, float]] | None:
        found = [(int(r["seed"]) if not _missing(r.get("seed")) else 0, s) for _, r in rows.iterrows()
                 if (s := _dead_and_spread(r)) is not None]
        if not found:
            return None
        dead: dict[int, list[float]] = {}
        for seed, (d, _) in found:
            dead.setdefault(seed, []).append(d)
        return (sum(d for _, (d, _) in found) / len(found), sum(s for _, (_, s) in found) / len(found), len(found),
                {seed: sum(v) / len(v) for seed, v in dead.items()})

    a, p = stats(adam), stats(prox)
    if a is None:
        return Verdict(claim, NOT_RUN, "no γ histogram from the blog's method with Adam")
    # the rule on the interval of the dead share over seeds: all of it at most 5% holds, all of it above fails
    share = compare(a[3], {s: DEAD_FAILS for s in a[3]}, "share")
    status = HOLDS if a[0] <= DEAD_FAILS else FAILS
    if share.seeds >= 2:
        status = HOLDS if share.high <= 0 else FAILS if share.low > 0 else UNDECIDED
    text = (f"blog γ-L1 + Adam: {a[0]:.0%} of γ below the threshold, p10–p90 spread {a[1]:.2f} decades "
            f"({a[2]} run(s); rule: ≤ {DEAD_FAILS:.0%} dead = fails); dead share − {DEAD_FAILS:.0%}: "
            f"{fmt_comparison(share, 2)}")
    if p is not None:
        text += (f"; proximal fix: {p[0]:.0%} dead, spread {p[1]:.2f} decades ({p[2]} run(s)); proximal − Adam dead "
                 f"share: {fmt_comparison(compare(p[3], a[3], 'share'), 2)}")
    else:
        text += "; proximal fix: not run"
    status, text = _seeded(status, share.seeds, text)
    return Verdict(claim, status, text)


CONCLUSIONS: tuple[Callable[[pd.DataFrame], Verdict], ...] = (
    later_layers_shrink_more, symmetry_does_not_matter, one_conv_suffices, gamma_fails_with_adam,
)


def conclusions(df: pd.DataFrame) -> list[Verdict]:
    return [check(df) for check in CONCLUSIONS]


def _by_data(df: pd.DataFrame) -> list[list[str]]:
    """Each conclusion checked on each data set's records apart ("Data" column); a conclusion no data set ran
    shows once as not run."""
    data = pd.Series([data_label(n, p) for n, p in zip(_col(df, "config.data.name"), _col(df, "config.data.path"))],
                     index=df.index, dtype=object)
    names = sorted(set(data)) or ["–"]
    rows: list[list[str]] = []
    for check in CONCLUSIONS:
        found = [(name, check(df[data == name])) for name in names]
        shown = [(name, v) for name, v in found if v.status != NOT_RUN] or [("–", found[0][1])]
        rows += [[v.claim, name, v.status, v.evidence] for name, v in shown]
    return rows


def render(df: pd.DataFrame) -> str:
    lines = [
        f"The blog's published numbers ({BLOG_SOURCE}, Tables 1–3 and 5; its Dice is the validation set's) next "
        "to this run's, where the matching suite ran. Our runs may be at a smaller scale (quick profile: a "
        "base-16 U-Net on synthetic data), so compare shares of the base model and Dice *changes*, not "
        "absolute values.",
        "",
        _numbers_table(df),
        "",
        "The blog's conclusions on this run's records:",
        "",
        markdown_rows(["Conclusion", "Data", "On our data", "Numbers"], _by_data(df)),
    ]
    return "\n".join(lines) + "\n"
