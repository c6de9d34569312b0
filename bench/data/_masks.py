"""Turn stored mask files into int64 class maps: binary, class-index and colour encodings."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Union

import numpy as np

from bench.data._io import read_array, read_raw
from bench.errors import DataError

Encoding = Literal["binary", "index", "rgb"]
ColourMapSpec = Union[str, Path, Mapping[str, int], Sequence[Sequence[int]]]


def load_colour_map(spec: ColourMapSpec) -> dict[tuple[int, int, int], int]:
    """(r, g, b) → class index from a CSV path, a {"r,g,b": index} mapping or [[r, g, b, index], …].

    A CSV has rows `name,r,g,b` (an optional header row is skipped); row order gives the index.
    """
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        try:
            rows = [row for row in csv.reader(path.read_text().splitlines()) if row]
        except OSError:
            raise DataError(f"{path}: colour map file not found or unreadable") from None
        table: dict[tuple[int, int, int], int] = {}
        for number, row in enumerate(rows):
            try:
                colour = (int(row[1]), int(row[2]), int(row[3]))
            except (ValueError, IndexError):
                if number == 0:
                    continue  # header
                raise DataError(f"{path}: row {number + 1} should be name,r,g,b, got {','.join(row)}") from None
            table[colour] = len(table)
        if not table:
            raise DataError(f"{path}: colour map has no name,r,g,b rows")
        return table
    if isinstance(spec, Mapping):
        try:
            return {tuple(int(v) for v in str(k).split(",")): int(i) for k, i in spec.items()}  # type: ignore[misc]
        except ValueError:
            raise DataError(f"colour map keys should look like 'r,g,b', got {list(spec)[:3]}") from None
    return {(int(r[0]), int(r[1]), int(r[2])): int(r[3]) for r in spec}


@dataclass(frozen=True)
class MaskDecoder:
    """How to read one mask file into class indices, with `ignore_index` where pixels don't count.

    binary: grey level (luminance for colour masks, palette resolved) > 127 → 1 (a file whose
    values are all 0/1 counts 1 as foreground); `invert` swaps 0 and 1.
    index: stored values are class indices (palette PNGs keep their raw indices).
    rgb: colours looked up in `colours`; colours not listed become `ignore_index`.
    `ignore_values` are class indices (after decoding) that also become `ignore_index`;
    `foreground_class` then turns the map into binary (that class 1, the rest 0).
    """

    encoding: Encoding = "binary"
    classes: int = 2
    colours: dict[tuple[int, int, int], int] = field(default_factory=dict)
    ignore_values: tuple[int, ...] = ()
    foreground_class: int | None = None
    ignore_index: int = 255
    invert: bool = False

    @property
    def num_classes(self) -> int:
        return 2 if self.foreground_class is not None else self.classes

    def decode(self, path: Path) -> np.ndarray:
        """The class map of one file as int64 HxW."""
        if self.encoding == "binary":
            grey = read_array(path, "L")
            top = grey.max(initial=0)
            # 0/255 (or 0/65535) masks split at mid-grey; a 0/1 mask (no value above 1) at 0.
            labels = grey > (0 if top <= 1 else (127 if grey.dtype == np.uint8 else top / 2))
            return (labels != self.invert).astype(np.int64)
        if self.encoding == "rgb":
            labels = self._lookup(read_array(path, "RGB"))
        else:
            raw = read_raw(path)
            if raw.ndim != 2:
                raise DataError(f"{path}: index mask should have one channel, got shape {raw.shape}")
            labels = raw.astype(np.int64)
        if self.ignore_values:
            labels[np.isin(labels, self.ignore_values)] = self.ignore_index
        bad = (labels != self.ignore_index) & ((labels < 0) | (labels >= self.classes))
        if bad.any():
            raise DataError(f"{path}: mask value {int(labels[bad][0])} is not a class in 0..{self.classes - 1}")
        if self.foreground_class is not None:
            keep = labels == self.ignore_index
            labels = (labels == self.foreground_class).astype(np.int64)
            labels[keep] = self.ignore_index
        return labels

    def _lookup(self, rgb: np.ndarray) -> np.ndarray:
        codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        keys = np.array(sorted((r << 16) | (g << 8) | b for r, g, b in self.colours), np.int64)
        values = np.array([self.colours[((k >> 16) & 255, (k >> 8) & 255, k & 255)] for k in keys], np.int64)
        pos = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
        return np.where(keys[pos] == codes, values[pos], self.ignore_index)


def make_decoder(
    encoding: Encoding,
    num_classes: int | None,
    colour_map: ColourMapSpec | None,
    ignore_values: Sequence[int],
    foreground_class: int | None,
    ignore_index: int,
    invert: bool,
) -> MaskDecoder:
    """Check the options together (e.g. index masks need `num_classes`) and build a decoder."""
    colours: dict[tuple[int, int, int], int] = {}
    if encoding == "binary":
        classes = 2
        if foreground_class is not None:
            raise DataError("foreground_class applies to index or rgb masks, not binary ones")
    elif encoding == "index":
        if num_classes is None:
            raise DataError("encoding 'index' needs num_classes (the number of real classes)")
        classes = num_classes
    elif encoding == "rgb":
        if colour_map is None:
            raise DataError("encoding 'rgb' needs colour_map (a name,r,g,b CSV path or a mapping)")
        colours = load_colour_map(colour_map)
        real = [i for i in colours.values() if i not in ignore_values]
        classes = num_classes if num_classes is not None else max(real, default=-1) + 1
    else:
        raise DataError(f"mask encoding must be 'binary', 'index' or 'rgb', got '{encoding}'")
    if classes < 2:
        raise DataError(f"num_classes must be at least 2, got {classes}")
    if foreground_class is not None and not 0 <= foreground_class < classes:
        raise DataError(f"foreground_class {foreground_class} is not a class in 0..{classes - 1}")
    if 0 <= ignore_index < classes:
        raise DataError(f"ignore_index {ignore_index} collides with a class in 0..{classes - 1}")
    return MaskDecoder(encoding, classes, colours, tuple(ignore_values), foreground_class, ignore_index, invert)
