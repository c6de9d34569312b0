"""Automatic layer removal (the blog's future work): a block conv whose channels are all dead is dropped, so
its block becomes one conv shorter, instead of keeping it at a 1-channel floor.

A *block* is a run of convs whose only consumer is the next conv of the block (the U-Net's double conv):
dropping conv ``i`` feeds its input straight to conv ``i + 1``; dropping the last conv makes the previous
one the block's output. At least one conv of every block stays (if all are dead, the last one, which
``derive_widths`` then keeps at its floor), so no path of the network disappears. The U-Nets of
``morph.models`` list their blocks in ``block_convs``; ``morph.rebuild(model, widths, remove=...)`` builds
the shorter model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import nn

from morph.errors import MorphError


def dead_convs(alive: Mapping[str, float], blocks: Mapping[str, Sequence[str]]) -> list[str]:
    """The block convs to drop: those with no alive channel, but never a block's last remaining conv.

    Args:
        alive: alive channels per width key (group name); a missing key counts as alive.
        blocks: block name → its convs' width keys in forward order.
    """
    drop: list[str] = []
    for convs in blocks.values():
        dead = [k for k in convs if round(alive.get(k, 1)) <= 0]
        drop += dead[:-1] if len(dead) == len(convs) else dead
    return drop


def block_convs(model: nn.Module) -> dict[str, list[str]]:
    """A model's conv blocks (``model.block_convs``); a MorphError for models without any."""
    blocks = getattr(model, "block_convs", None)
    if not isinstance(blocks, Mapping):
        raise MorphError(f"{type(model).__name__} has no conv blocks: layer removal needs a morph.models U-Net")
    return {name: list(keys) for name, keys in blocks.items()}
