"""What a suite's numbers were measured on: device, threads, input, data, model, profile, commit, packages.

Why a table: the blog's numbers mean little without the machine and recipe; every value comes from the
records (env/config/latency), and a field with several values says so instead of picking one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from bench.report.tables import register_table
from bench.store.records import is_missing as _missing

_SKIP_DATA = {"name", "path", "path_env"}
_TRAIN_KEYS = ("optimizer", "lr", "epochs", "batch_size", "amp", "deterministic")
_MORPH_KEYS = ("source", "resource", "strength", "threshold", "epochs", "iterations", "min_fraction", "symmetry")


def _values(df: pd.DataFrame, col: str) -> list[str]:
    if col not in df.columns:
        return []
    return sorted({_text(v) for v in df[col] if not _missing(v)})


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "×".join(map(str, value)) if all(isinstance(v, int) for v in value) else json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _join(values: Iterable[str], empty: str = "not recorded", varies: str = "mixed") -> str:
    """One value as is; several joined and flagged, so a mixed environment cannot pass unnoticed."""
    values = list(values)
    if not values:
        return empty
    return values[0] if len(values) == 1 else " / ".join(values) + f" ({varies})"


def _settings(df: pd.DataFrame, prefix: str, name: str = "name", keys: Iterable[str] | None = None,
              skip: Iterable[str] = ()) -> str:
    """``"synthetic_buildings (count=16, size=32)"`` from ``config.data.*`` columns (all keys, or ``keys``)."""
    names = _values(df, f"{prefix}{name}")
    cols = sorted(c.removeprefix(prefix) for c in df.columns if c.startswith(prefix)) if keys is None else keys
    args = []
    for key in cols:
        if key not in skip and key != name and (vals := _values(df, prefix + key)):
            args.append(f"{key}={_join(vals, varies='varies')}")
    return f"{_join(names, varies='varies')} ({', '.join(args)})" if args else _join(names, varies="varies")


def _eval_images(df: pd.DataFrame) -> str:
    """``"val 128, test 128 (quick); val 80, test 80 (real_isbi)"``: the images (or tiles) each split was scored on,
    from the per-image counts of the records (issue 10: a report states its evaluation counts)."""
    if "per_image" not in df.columns:
        return "not recorded"
    sizes: dict[str, dict[str, set[int]]] = {}
    extras = df["extra"] if "extra" in df.columns else [None] * len(df)
    for per_image, extra in zip(df["per_image"], extras):
        if not isinstance(per_image, dict):
            continue
        profile = str(extra.get("profile", "")) if isinstance(extra, dict) else ""
        for split, counts in per_image.items():
            if isinstance(counts, dict) and isinstance(counts.get("total"), list):
                sizes.setdefault(profile, {}).setdefault(split, set()).add(len(counts["total"]))
    parts = []
    for profile, splits in sorted(sizes.items()):
        text = ", ".join(f"{split} {' / '.join(map(str, sorted(splits[split])))}" for split in ("val", "test")
                         if split in splits)
        parts.append(f"{text} ({profile})" if profile and len(sizes) > 1 else text)
    return "; ".join(parts) or "not recorded"


def _latency_field(df: pd.DataFrame, field: str) -> list[str]:
    pattern = re.compile(rf"^latency\.[^.]+\.{field}$")
    return sorted({v for c in df.columns if pattern.match(c) for v in _values(df, c)})


@register_table("setup")
def setup_table(df: pd.DataFrame) -> pd.DataFrame:
    """Columns Setting, Value: one row per fact about how the suite was run, taken from its records."""
    devices = sorted({c.split(".")[1] for c in df.columns if re.match(r"^latency\.[^.]+\.median_s$", c)})
    commits = [f"{c[:12]}" for c in _values(df, "env.git_commit")]
    dirty = _values(df, "env.git_dirty")
    packages = sorted({c.removeprefix("env.packages.") for c in df.columns if c.startswith("env.packages.")})
    statuses = df["status"].value_counts() if "status" in df else pd.Series(dtype=int)
    extras = df["extra"] if "extra" in df.columns else []  # a dict cell per record (not flattened)
    profile = sorted({str(e["profile"]) for e in extras if isinstance(e, dict) and e.get("profile")})
    rows = [
        ("Records", f"{len(df)} ({', '.join(f'{k} {statuses[k]}' for k in sorted(statuses.index))}) from "
                    f"{df['case_id'].nunique() if 'case_id' in df else 0} cases, seeds "
                    f"{', '.join(_values(df, 'seed')) or '–'}"),
        ("Device", f"{_join(_values(df, 'env.device'))} (host {_join(_values(df, 'env.hostname'))}); "
                   f"latency measured as {_join(devices, 'none')}"),
        ("Threads", f"latency {_join(_latency_field(df, 'threads'))}; torch {_join(_values(df, 'env.torch_threads'))}"),
        ("Input size", f"{_join(_latency_field(df, 'input_shape'))} (latency; batch {_join(_latency_field(df, 'batch'))}"
                       f", dtype {_join(_latency_field(df, 'dtype'))}, warm-up {_join(_latency_field(df, 'warmup'))})"),
        ("Data set", _settings(df, "config.data.", skip=_SKIP_DATA)),
        ("Evaluation images", _eval_images(df)),
        ("Model", _settings(df, "config.model.")),
        ("Training", _settings(df, "config.train.", "optimizer", _TRAIN_KEYS)),
        ("Compression", _settings(df, "config.morph.", "method", _MORPH_KEYS)),
        ("Profile", _join(profile)),
        ("Git commit", f"{_join(commits)} (dirty: {_join(dirty)})"),
        ("Packages", ", ".join(f"{p} {_join(_values(df, 'env.packages.' + p))}" for p in packages) or "not recorded"),
        ("Python / platform", f"{_join(_values(df, 'env.python'))} / {_join(_values(df, 'env.platform'))}"),
        ("CUDA / cuDNN", f"{_join(_values(df, 'env.cuda'), 'none')} / {_join(_values(df, 'env.cudnn'), 'none')}"),
        ("Recorded", f"{min(_values(df, 'started_at'), default='–')} … {max(_values(df, 'ended_at'), default='–')}"),
    ]
    return pd.DataFrame(rows, columns=["Setting", "Value"])
