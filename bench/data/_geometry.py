"""Windows into an image: whole, centre/top-left crop, non-overlapping tiles, padding.

A window may reach past the image edge; `cut` fills that part (images with 0, masks with
the ignore value), which is how padding and padded edge tiles are done without copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.errors import DataError

SizeMode = Literal["none", "crop", "tile", "pad"]
Anchor = Literal["center", "top_left"]
EdgeMode = Literal["drop", "pad"]


@dataclass(frozen=True)
class Window:
    top: int
    left: int
    height: int
    width: int


def as_hw(size: int | tuple[int, int] | list[int] | None) -> tuple[int, int] | None:
    """An int means a square; a pair is (height, width)."""
    if size is None:
        return None
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise DataError(f"size should be an int or [height, width], got {size}")
    return int(size[0]), int(size[1])


def windows(
    shape: tuple[int, int],
    mode: SizeMode,
    size: tuple[int, int] | None,
    anchor: Anchor = "center",
    edge: EdgeMode = "drop",
    where: str = "",
) -> list[Window]:
    """The windows one image of `shape` (height, width) yields under a size mode, row-major."""
    h, w = shape
    if mode == "none":
        return [Window(0, 0, h, w)]
    if size is None:
        raise DataError(f"size_mode '{mode}' needs size (an int or [height, width])")
    th, tw = size
    if th < 1 or tw < 1:
        raise DataError(f"size must be positive, got {list(size)}")
    if mode == "crop":
        if anchor == "center":
            return [Window((h - th) // 2, (w - tw) // 2, th, tw)]
        if anchor == "top_left":
            return [Window(0, 0, th, tw)]
        raise DataError(f"crop_anchor must be 'center' or 'top_left', got '{anchor}'")
    if mode == "pad":
        if h > th or w > tw:
            raise DataError(f"{where}: image {h}x{w} is larger than pad size {th}x{tw}; use crop or tile")
        return [Window(0, 0, th, tw)]
    if mode == "tile":
        if edge == "drop":
            rows, cols = h // th, w // tw
        elif edge == "pad":
            rows, cols = -(-h // th), -(-w // tw)
        else:
            raise DataError(f"tile_edge must be 'drop' or 'pad', got '{edge}'")
        return [Window(r * th, c * tw, th, tw) for r in range(rows) for c in range(cols)]
    raise DataError(f"size_mode must be 'none', 'crop', 'tile' or 'pad', got '{mode}'")


def cut(array: np.ndarray, window: Window, fill: float) -> np.ndarray:
    """The window's pixels (HxW or HxWxC); parts outside the array are `fill`."""
    h, w = array.shape[:2]
    t, l, wh, ww = window.top, window.left, window.height, window.width
    if t >= 0 and l >= 0 and t + wh <= h and l + ww <= w:
        return array[t : t + wh, l : l + ww]
    out = np.full((wh, ww) + array.shape[2:], fill, dtype=array.dtype)
    st, sl = max(t, 0), max(l, 0)
    et, el = min(t + wh, h), min(l + ww, w)
    if et > st and el > sl:
        out[st - t : et - t, sl - l : el - l] = array[st:et, sl:el]
    return out
