"""Pair image files with mask files (and optional region-of-interest files) by a shared key.

The key is the file stem after stripping a fixed suffix and/or taking a regex match, which
covers the usual layouts (`21_training.tif` ↔ `21_manual1.gif`, `a.png` ↔ `a_L.png`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.data._io import IMAGE_SUFFIXES
from bench.errors import DataError


@dataclass(frozen=True)
class Pair:
    """One sample's files; `roi` marks the valid pixels (outside it the mask becomes ignore)."""

    key: str
    image: Path
    mask: Path
    roi: Path | None = None


@dataclass(frozen=True)
class Side:
    """Where one kind of file lives and how its stem turns into a pairing key."""

    folder: Path
    glob: str = "*"
    suffix: str = ""
    role: str = "image"

    def files(self, stem_regex: str | None) -> dict[str, Path]:
        """Key → file for every matching file; a folder without matches is an error."""
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: {self.role} folder not found")
        found = [p for p in self.folder.glob(self.glob) if p.is_file() and not p.name.startswith(".")]
        found = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
        if not found:
            raise DataError(f"{self.folder}: no {self.role} files match '{self.glob}'")
        table: dict[str, Path] = {}
        for path in sorted(found):
            key = stem_key(path.stem, self.suffix, stem_regex)
            if key is None:
                raise DataError(f"{path}: {self.role} file name does not match stem_regex '{stem_regex}'")
            if key in table:
                raise DataError(f"{path}: {self.role} key '{key}' also used by {table[key].name}")
            table[key] = path
        return table


def stem_key(stem: str, suffix: str, stem_regex: str | None) -> str | None:
    """Strip `suffix` if present, then keep the regex's first group (or whole match)."""
    if suffix and stem.endswith(suffix):
        stem = stem[: -len(suffix)]
    if stem_regex:
        match = re.search(stem_regex, stem)
        if match is None:
            return None
        return match.group(1) if match.groups() else match.group(0)
    return stem


def natural_key(text: str) -> list[int | str]:
    """Sort "2" before "10" (slices and tiles are numbered without zero padding)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def pair_files(images: Side, masks: Side, rois: Side | None = None, stem_regex: str | None = None) -> list[Pair]:
    """Match every image with exactly one mask (and ROI file); list unmatched files as errors.

    Returns:
        Pairs in natural order of their keys, so loading order never depends on the file system.

    Raises:
        DataError: a missing folder, an empty glob, an image without a mask or the reverse.
    """
    image_files = images.files(stem_regex)
    mask_files = masks.files(stem_regex)
    roi_files = rois.files(stem_regex) if rois is not None else {}
    for key, path in image_files.items():
        if key not in mask_files:
            raise DataError(f"{path}: no mask for key '{key}' in {masks.folder} (glob '{masks.glob}')")
        if rois is not None and key not in roi_files:
            raise DataError(f"{path}: no region-of-interest file for key '{key}' in {rois.folder}")
    for key, path in mask_files.items():
        if key not in image_files:
            raise DataError(f"{path}: mask has no image with key '{key}' in {images.folder} (glob '{images.glob}')")
    return [
        Pair(key, image_files[key], mask_files[key], roi_files.get(key))
        for key in sorted(image_files, key=natural_key)
    ]
