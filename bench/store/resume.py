"""The results layout and the one resume rule every runner and executor follows.

Layout of a results folder:
- ``<case_id>/<stage>[-it<k>].json``: the case's record of each stage (:mod:`bench.store.records`);
- ``.stages/<stage key>/``: the stage's product (:mod:`bench.store.checkpoints`), written before the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

#: The folder of stage products inside a results folder.
STAGE_CACHE = ".stages"

Action = Literal["run", "skip", "stop"]


def stage_cache(results: str | Path) -> Path:
    """Where a results folder keeps its stage products."""
    return Path(results) / STAGE_CACHE


def resume_action(status: str | None, has_product: bool, *, force: bool = False, retry_failed: bool = False) -> Action:
    """What to do with one stage given its record's status (None: no record) and whether its product is kept.

    asv's skip-existing-successful: "run" what is missing (no record, or an "ok" record whose product is gone);
    "skip" a finished stage; "stop" the case at a "failed" stage (unless ``retry_failed``) or a "diverged" one
    (a result, e.g. too strong a regularizer: only ``force`` reruns it); ``force`` runs everything.
    """
    if force or status is None:
        return "run"
    if status == "diverged":
        return "stop"
    if status == "failed":
        return "run" if retry_failed else "stop"
    return "skip" if has_product else "run"
