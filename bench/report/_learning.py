"""Does structure learning keep the network alive? Each learn stage's val Dice per epoch as a share of its seed's
base model (issue 14: a FLOPs cost emptied full-resolution layers and left val Dice at 0 through learning).

One line per case group and iteration: the share per epoch (mean over seeds) and the lowest share any seed had
after the first epoch, against :data:`KEEP` (half the base's).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The share of the base's val Dice a learn stage should keep in every epoch after the first.
KEEP = 0.5


def _shares(rows: pd.DataFrame) -> dict[int, list[list[float]]]:
    """iteration → per seed, the learn stage's val Dice per epoch divided by its seed's base val Dice."""
    base = {int(r["seed"]): float(r["metrics.val.dice"]) for _, r in rows.iterrows()
            if r["stage"] == "base" and "metrics.val.dice" in r and r["metrics.val.dice"] == r["metrics.val.dice"]}
    out: dict[int, list[list[float]]] = {}
    for _, r in rows[rows["stage"] == "learn"].iterrows():
        history, seed = r.get("history"), r.get("seed")
        ref = base.get(int(seed)) if seed == seed and seed is not None else None
        if not isinstance(history, dict) or not history.get("val_dice") or not ref:
            continue
        it = 0 if r["iteration"] != r["iteration"] or r["iteration"] is None else int(r["iteration"])
        out.setdefault(it, []).append([float(v) / ref for v in history["val_dice"]])
    return out


def learn_health(rows: pd.DataFrame) -> str | None:
    """Markdown lines for the group's learn stages, or None when it has none (or no base to compare with)."""
    if "history" not in rows or "metrics.val.dice" not in rows:
        return None
    lines = []
    for it, seeds in sorted(_shares(rows).items()):
        epochs = min(len(s) for s in seeds)
        mean = np.mean([s[:epochs] for s in seeds], axis=0)
        after = [min(s[1:epochs]) for s in seeds if epochs > 1]
        low = min(after) if after else math.nan
        verdict = "–" if not after else (f"kept ≥ {KEEP:.0%}" if low >= KEEP else f"fell below {KEEP:.0%}")
        lines.append(f"- learn{f' iteration {it}' if it else ''}: val Dice per epoch as a share of the base's "
                     f"(mean over {len(seeds)} seed(s)): {', '.join(f'{v:.2f}' for v in mean)}; lowest after the "
                     f"first epoch {low:.2f} ({verdict})")
    return "\n".join(lines) if lines else None
