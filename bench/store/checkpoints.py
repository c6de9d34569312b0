"""A stage's model product on disk: ``<root>/<key>/weights.safetensors`` plus ``widths.json``.

``key`` is normally :func:`bench.suite.stage_key`, so every case that depends on the same stage finds its
product. Both files are written atomically; ``widths.json`` goes last and is the commit marker (it is removed
before new weights are written), so a crash never pairs new weights with old widths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError, CorruptFileError
from bench.store._atomic import atomic_write, atomic_write_text
from bench.store.paths import safe_child

if TYPE_CHECKING:  # torch loads only when a checkpoint is written or read, so reports run without it
    import torch

WEIGHTS = "weights.safetensors"
WIDTHS = "widths.json"


@dataclass(frozen=True)
class Checkpoint:
    """Widths per layer, the weights (on CPU) and free-form metadata (JSON types)."""

    widths: dict[str, int]
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def checkpoint_dir(root: str | Path, key: str) -> Path:
    return safe_child(root, key, what="stage key")  # keys come from records too (bench export, load_model)


def has_checkpoint(root: str | Path, key: str) -> bool:
    folder = checkpoint_dir(root, key)
    return (folder / WIDTHS).is_file() and (folder / WEIGHTS).is_file()


def save_checkpoint(
    root: str | Path, key: str, state_dict: Mapping[str, torch.Tensor], widths: Mapping[str, int],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save weights and widths under ``root/key``; returns the folder.

    Tensors are copied to contiguous CPU tensors of their own, as safetensors refuses shared storage.
    """
    from safetensors.torch import save_file

    folder = checkpoint_dir(root, key)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WIDTHS).unlink(missing_ok=True)
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in state_dict.items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(tensors, str(tmp), metadata={"key": key}))
    body = {"key": key, "widths": {k: int(v) for k, v in widths.items()}, "metadata": dict(metadata or {})}
    atomic_write_text(folder / WIDTHS, json.dumps(body, indent=1, sort_keys=True) + "\n")
    return folder


def load_checkpoint(root: str | Path, key: str) -> Checkpoint:
    """Load what :func:`save_checkpoint` wrote; a missing or half-written checkpoint is a one-line BenchError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = checkpoint_dir(root, key)
    if not has_checkpoint(root, key):
        raise BenchError(f"{folder}: expected a checkpoint ({WEIGHTS} and {WIDTHS}); run the stage that makes it")
    try:
        body = json.loads((folder / WIDTHS).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / WEIGHTS))
        return Checkpoint(dict(body["widths"]), dict(tensors), dict(body.get("metadata", {})), folder)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, SafetensorError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError(f"{folder}: unreadable checkpoint ({reason}); delete the folder to redo its stage") \
            from None
