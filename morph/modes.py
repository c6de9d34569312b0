"""Restoring context managers for module state that tracing and measuring change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode for the block (BN on a 1×1 pooled map fails in train mode; inference is timed in eval);
    every submodule's own train flag is restored afterwards, not just the root's."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training
