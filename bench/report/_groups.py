"""How records become table columns and table groups: stage labels in the blog's words, case groups (a case
label without its seed), and the uniform baseline attached to the MorphNet groups it was budgeted against.

Why here and not in the tables: every table and figure must agree on what a "group" and a "stage" are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from bench.methods import baseline_matched_settings, baseline_names, baseline_stages, stage_title
from bench.store.records import STAGE_ORDER, is_missing

#: Morph settings a baseline's stage key hashes: a baseline group serves the learner groups that agree on them.
UNIFORM_MATCH = tuple(sorted(baseline_matched_settings()))
_SEED = re.compile(r"(^|,)seed=[^,]*$")


def stage_label(stage: str, iteration: Any) -> str:
    """The blog's column names: Base, Shrunk, Expanded, Shrunk 1, Expanded 1, …; Uniform (same budget) (each
    stage's title as its method declares it)."""
    name = stage_title(stage)
    if is_missing(iteration) or int(iteration) <= 1:
        return name
    return f"{name} {int(iteration) - 1}"


def stage_rank(stage: str, iteration: Any) -> tuple[int, int, str]:
    """Sort key: base, then each iteration's learn → shrink → expand, then the baselines' stages (uniform), then
    anything else."""
    if stage in baseline_stages():
        return (10**6, 0, stage)
    if stage not in STAGE_ORDER:
        return (10**6 + 1, 0, stage)
    return (0 if is_missing(iteration) else int(iteration), STAGE_ORDER[stage], stage)


def group_label(label: str) -> str:
    """A case label without its seed: the seeds of one group are averaged (``"sym=2,seed=0"`` → ``"sym=2"``)."""
    return _SEED.sub("", str(label)) or "all cases"


def profile_tag(extra: object) -> str:
    """`` [real_isbi]`` for a record of a profile other than ``quick``: the same case label run on other data or
    at another scale is another group, never pooled with the quick profile's seeds."""
    profile = extra.get("profile") if isinstance(extra, dict) else None
    return f" [{profile}]" if profile and profile != "quick" else ""


def data_label(name: object, path: object) -> str:
    """What a record's numbers are on, in a word: the data set's name, and for a folder its folder under
    ``data/`` (``"folder: isbi2012-membrane"``), so verdicts can say on which data they hold."""
    text = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
    if isinstance(path, str) and path:
        parts = [p for p in PurePosixPath(path.replace(chr(92), "/")).parts if p not in ("..", ".", "/")]
        folder = parts[parts.index("data") + 1] if "data" in parts[:-1] else (parts[0] if parts else "")
        if folder and folder != text:
            return f"{text}: {folder}" if text else folder
    return text or "–"


def record_group(label: str, extra: object) -> str:
    """The case group a record's seeds are pooled in: its label without the seed, tagged with its profile."""
    return group_label(label) + profile_tag(extra)


def prepare(df: pd.DataFrame, *, attach_uniform: bool = True) -> pd.DataFrame:
    """Add ``group``, ``stage_label``, ``stage_rank`` and ``method`` columns.

    With ``attach_uniform``, a uniform-baseline group whose settings match a MorphNet group (same data, model,
    training, measurement and :data:`UNIFORM_MATCH` settings) is folded into that group as its
    "Uniform (same budget)" column, once per matching group; an unmatched uniform group stays on its own.
    """
    out = df.copy()
    if out.empty:
        return out.assign(group=[], stage_label=[], stage_rank=[], method=[])
    extras = out["extra"] if "extra" in out else pd.Series([None] * len(out), index=out.index)
    out["group"] = [record_group(lab, e) for lab, e in zip(out["label"], extras)]
    out["stage_label"] = [stage_label(s, i) for s, i in zip(out["stage"], out["iteration"])]
    out["stage_rank"] = [stage_rank(s, i) for s, i in zip(out["stage"], out["iteration"])]
    method = out["config.morph.method"] if "config.morph.method" in out else pd.Series("", index=out.index)
    out["method"] = method.fillna("").astype(str)
    return _attach_uniform(out) if attach_uniform else out


def _attach_uniform(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in sorted(df.columns) if c.startswith("config.") and
            (not c.startswith("config.morph.") or c.removeprefix("config.morph.") in UNIFORM_MATCH)]
    signature = {g: _signature(rows, keys) for g, rows in df.groupby(["suite", "group"], sort=True)}
    methods = {g: set(rows["method"]) for g, rows in df.groupby(["suite", "group"], sort=True)}
    baselines = baseline_names()
    parts, dropped = [df], set()
    for (suite, group), rows in df.groupby(["suite", "group"], sort=True):
        if not methods[(suite, group)] or not methods[(suite, group)] <= baselines:
            continue
        targets = [g for (s, g), sig in signature.items()
                   if s == suite and sig == signature[(suite, group)] and not methods[(s, g)] & baselines]
        if targets:
            dropped.add((suite, group))
            uniform = rows[rows["stage"].isin(baseline_stages())]
            parts += [uniform.assign(group=target) for target in targets]
    merged = pd.concat(parts, ignore_index=True)
    keep = [(s, g) not in dropped for s, g in zip(merged["suite"], merged["group"])]
    return merged[keep].reset_index(drop=True)


def _signature(rows: pd.DataFrame, keys: list[str]) -> str:
    first = rows.sort_values(["case_id", "stage"]).iloc[0]
    return json.dumps({k: _plain(first[k]) for k in keys}, sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    return None if is_missing(value) else value


def sorted_stages(df: pd.DataFrame) -> list[str]:
    """The stage labels present, in pipeline order."""
    pairs = sorted({(r, lab) for r, lab in zip(df["stage_rank"], df["stage_label"])})
    return list(dict.fromkeys(lab for _, lab in pairs))


_ROLE = {"encoder": 0, "decoder": 1, "segmentation_head": 2}


def layer_order(names: list[str], recorded: Sequence[str] | None = None) -> list[str]:
    """``names`` in the model's own (forward) order: as ``recorded`` (a record's ``extra.layer_order``, see
    :func:`recorded_order`) says, names it lacks after it; without one, a guess for records written before
    records carried it (widths are kept with sorted keys)."""
    if recorded:
        present = set(names)
        known = [n for n in recorded if n in present]
        return known + _guessed_order([n for n in names if n not in set(known)])
    return _guessed_order(names)


def recorded_order(rows: pd.DataFrame) -> list[str] | None:
    """The model's own layer order from the first of ``rows`` whose record carries one."""
    for extra in rows["extra"] if "extra" in rows else ():
        if isinstance(extra, Mapping) and extra.get("layer_order"):
            return list(extra["layer_order"])
    return None


def _guessed_order(names: list[str]) -> list[str]:
    """U-Net layers in data-flow order (enc0 … bottleneck, then up/dec from deep to shallow); others in natural
    order with an smp model's encoder before its decoder and head."""
    pattern = re.compile(r"^(enc|up|dec)(\d+)(?:\.(\d+))?$")
    matches = [pattern.match(n) for n in names]
    if not names or not all(matches):
        return sorted(names, key=lambda n: (_ROLE.get(n.split(".")[0], 1), natural_key(n)))

    def key(m: re.Match[str]) -> tuple[int, int, int, int]:
        kind, level, sub = m.group(1), int(m.group(2)), int(m.group(3) or 0)
        return (0, level, 0, sub) if kind == "enc" else (1, -level, 0 if kind == "up" else 1, sub)

    return [m.group(0) for m in sorted((m for m in matches if m), key=key)]


def natural_key(text: str) -> list[Any]:
    """``"sym=10"`` after ``"sym=2"``: digit runs compare as numbers."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(text))]


def grouped(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(group, its records) in natural order of the group label."""
    groups = {g: rows for g, rows in df.groupby("group", sort=False)}
    return [(g, groups[g]) for g in sorted(groups, key=natural_key)]
