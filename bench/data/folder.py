"""Any segmentation set stored as image files and mask files paired by stem, configured not coded.

Examples (the real sets in shared/data need only options):
    ISBI 2012:  root=".../isbi2012-membrane/train", image_dir="image", mask_dir="label"
    DRIVE:      root=".../drive", split="folders", split_dirs={"train": "training", "test": "test"},
                image_dir="images", mask_dir="1st_manual", roi_dir="mask", stem_regex="^\\d+"
    CamVid:     root=".../camvid", image_dir="val", mask_dir="valannot", encoding="index",
                num_classes=11, ignore_values=[11]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.data._cache import ByteLRU
from bench.data._geometry import Anchor, EdgeMode, SizeMode, Window, as_hw, cut, windows
from bench.data._io import image_channels, image_size, read_array, to_image_tensor
from bench.data._masks import ColourMapSpec, Encoding, MaskDecoder, make_decoder
from bench.data._pairing import Pair, Side, pair_files
from bench.data.splits import DatasetSplits, seeded_partition, split_counts
from bench.errors import DataError

SplitMode = Literal["fraction", "stems", "folders"]


class FolderSegmentation(Dataset):
    """Items (image [C,H,W] float32, mask [H,W] int64) from paired files, one window per item.

    File headers are read up front (to check sizes and count tiles); pixels are decoded on
    first use and kept up to `cache_bytes` (see `bench.data._cache`), so shuffled tiles of one
    image decode it once per process, not once per tile.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        decoder: MaskDecoder,
        size_mode: SizeMode = "none",
        size: int | tuple[int, int] | None = None,
        crop_anchor: Anchor = "center",
        tile_edge: EdgeMode = "drop",
        image_mode: str | None = None,
        cache_bytes: int | None = None,
    ) -> None:
        self.pairs = list(pairs)
        self.decoder = decoder
        self.image_mode = image_mode
        self.num_classes: int = decoder.num_classes
        self.ignore_index: int | None = decoder.ignore_index
        self._cache: ByteLRU[tuple[np.ndarray, np.ndarray]] = ByteLRU(cache_bytes)
        hw = as_hw(size)
        self.items: list[tuple[int, Window]] = []
        self._first: tuple[Path, tuple[int, int], int] | None = None
        for index, pair in enumerate(self.pairs):
            shape = image_size(pair.image)
            for other in (pair.mask, pair.roi):
                if other is not None and image_size(other) != shape:
                    h, w = image_size(other)
                    where = f"its image {pair.image.name} ({shape[0]}x{shape[1]})"
                    raise DataError(f"{other}: size {h}x{w} differs from {where}")
            self._check_alike(pair.image, shape, size_mode)
            for window in windows(shape, size_mode, hw, crop_anchor, tile_edge, str(pair.image)):
                self.items.append((index, window))

    def _check_alike(self, image: Path, shape: tuple[int, int], size_mode: SizeMode) -> None:
        """Items are batched, so they must agree in channels (unless image_mode converts them) and, with whole
        images, in size: name the first file that differs instead of failing in the batch."""
        channels = image_channels(image) if self.image_mode is None else 0
        if self._first is None:
            self._first = (image, shape, channels)
            return
        first, first_shape, first_channels = self._first
        if channels != first_channels:
            raise DataError(f"{image}: {channels} channel(s) where {first.name} has {first_channels}; "
                            "set data.image_mode = \"RGB\" or \"L\"")
        if size_mode == "none" and shape != first_shape:
            raise DataError(f"{image}: size {shape[0]}x{shape[1]} differs from {first.name} "
                            f"({first_shape[0]}x{first_shape[1]}); set data.size_mode (crop, tile or pad) and size")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        pair_index, window = self.items[index]
        image, mask = self._load(pair_index)
        x = to_image_tensor(cut(image, window, 0), self.pairs[pair_index].image)
        y = torch.from_numpy(np.ascontiguousarray(cut(mask, window, self.decoder.ignore_index)))
        return x, y

    def _load(self, pair_index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._cache.get(pair_index, lambda: self._decode(pair_index))

    def _decode(self, pair_index: int) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pairs[pair_index]
        image = read_array(pair.image, self.image_mode)
        mask = self.decoder.decode(pair.mask)
        if image.shape[:2] != mask.shape:
            where = f"its image {pair.image.name} {image.shape[:2]}"
            raise DataError(f"{pair.mask}: size {mask.shape} differs from {where}")
        if pair.roi is not None:
            mask[read_array(pair.roi, "L") <= 127] = self.decoder.ignore_index
        return image, mask

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = ByteLRU(self._cache.budget)  # workers decode their own files
        return state


def folder(
    root: str | Path,
    image_dir: str = "images",
    mask_dir: str = "masks",
    image_glob: str = "*",
    mask_glob: str = "*",
    image_suffix: str = "",
    mask_suffix: str = "",
    stem_regex: str | None = None,
    roi_dir: str | None = None,
    roi_glob: str = "*",
    encoding: Encoding = "binary",
    num_classes: int | None = None,
    colour_map: ColourMapSpec | None = None,
    ignore_values: Sequence[int] = (),
    foreground_class: int | None = None,
    ignore_index: int = 255,
    invert: bool = False,
    image_mode: str | None = None,
    size_mode: SizeMode = "none",
    size: int | tuple[int, int] | None = None,
    crop_anchor: Anchor = "center",
    tile_edge: EdgeMode = "drop",
    split: SplitMode = "fraction",
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 0,
    train_stems: Sequence[str] | None = None,
    val_stems: Sequence[str] | None = None,
    test_stems: Sequence[str] | None = None,
    split_dirs: Mapping[str, str] | None = None,
    dice_classes: Literal["foreground", "all"] = "foreground",
) -> DatasetSplits:
    """Pair files, decode masks as configured and split by whole images (never tiles of one image).

    Args:
        root: the data set folder; image_dir/mask_dir/roi_dir are relative to it (or to each
            split folder when split="folders").
        image_glob, mask_glob: which files count; mask_suffix/image_suffix are stripped from
            stems and stem_regex (first group, else whole match) picks the pairing key.
        roi_dir: optional valid-region masks (e.g. DRIVE's field of view); outside → ignore.
        encoding, num_classes, colour_map, ignore_values, foreground_class, ignore_index,
            invert: how masks become class indices (see `MaskDecoder`).
        size_mode, size, crop_anchor, tile_edge: whole images, a crop, tiles or padding.
        split: "fraction" (seeded val/test fractions), "stems" (explicit key lists) or
            "folders" (sub-folders named by split_dirs; val carved from train if absent).
        dice_classes: "foreground" leaves class 0 out of mean Dice (a background); "all" counts every class
            (CamVid, whose class 0 is sky). Binary masks always score their foreground.

    Raises:
        DataError: missing folders, unpaired files, size mismatches, unreadable files, empty splits.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data set folder not found")
    if dice_classes not in ("foreground", "all"):
        raise DataError(f"dice_classes: expected 'foreground' or 'all', got {dice_classes!r}")
    decoder = make_decoder(encoding, num_classes, colour_map, ignore_values, foreground_class, ignore_index, invert)

    def pairs_in(base: Path) -> list[Pair]:
        rois = Side(base / roi_dir, roi_glob, "", "region-of-interest") if roi_dir else None
        return pair_files(
            Side(base / image_dir, image_glob, image_suffix, "image"),
            Side(base / mask_dir, mask_glob, mask_suffix, "mask"),
            rois,
            stem_regex,
        )

    groups = _split_pairs(
        root, pairs_in, split, val_fraction, test_fraction, seed, train_stems, val_stems, test_stems, split_dirs
    )

    def build(pairs: list[Pair], name: str) -> FolderSegmentation:
        data = FolderSegmentation(pairs, decoder, size_mode, size, crop_anchor, tile_edge, image_mode)
        if len(data) == 0:
            raise DataError(f"{root}: {name} split has no items after size_mode '{size_mode}' (size {size})")
        return data

    train, val = build(groups["train"], "train"), build(groups["val"], "val")
    test = build(groups["test"], "test") if groups["test"] else None
    return DatasetSplits(
        train=train,
        val=val,
        test=test,
        num_classes=decoder.num_classes,
        ignore_index=decoder.ignore_index,
        task="segmentation",
        background=0 if dice_classes == "foreground" else None,
        info={
            "source": str(root),
            "split": split,
            "seed": seed,
            "images": {k: len(v) for k, v in groups.items()},
            "items": {"train": len(train), "val": len(val), "test": len(test) if test else 0},
        },
    )


def _split_pairs(
    root: Path,
    pairs_in: Any,
    split: SplitMode,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    train_stems: Sequence[str] | None,
    val_stems: Sequence[str] | None,
    test_stems: Sequence[str] | None,
    split_dirs: Mapping[str, str] | None,
) -> dict[str, list[Pair]]:
    """Whole-image groups {"train", "val", "test"}; test may be empty."""
    if split == "fraction":
        pairs = pairs_in(root)
        sizes = split_counts(len(pairs), val_fraction, test_fraction, str(root))
        parts = seeded_partition(len(pairs), sizes, seed)
        return {name: [pairs[i] for i in idx] for name, idx in zip(("train", "val", "test"), parts)}
    if split == "stems":
        pairs = pairs_in(root)
        if not val_stems:
            raise DataError(f"{root}: split 'stems' needs val_stems (a list of file stems)")
        by_key = {p.key: p for p in pairs} | {p.image.stem: p for p in pairs}
        chosen: dict[str, list[Pair]] = {}
        taken: set[str] = set()
        for name, stems in (("val", val_stems), ("test", test_stems or []), ("train", train_stems or [])):
            chosen[name] = []
            for stem in stems:
                if stem not in by_key:
                    raise DataError(f"{root}: {name}_stems entry '{stem}' matches no image/mask pair")
                pair = by_key[stem]
                if pair.key in taken:
                    raise DataError(f"{root}: stem '{stem}' is listed in more than one split")
                taken.add(pair.key)
                chosen[name].append(pair)
        if not train_stems:
            chosen["train"] = [p for p in pairs if p.key not in taken]
        if not chosen["train"]:
            raise DataError(f"{root}: split 'stems' leaves an empty train split")
        return chosen
    if split == "folders":
        explicit = split_dirs is not None
        dirs = dict(split_dirs) if explicit else {"train": "train", "val": "val", "test": "test"}
        unknown = set(dirs) - {"train", "val", "test"}
        if unknown or "train" not in dirs:
            raise DataError(f"{root}: split_dirs needs a 'train' key and only train/val/test, got {sorted(dirs)}")
        groups: dict[str, list[Pair]] = {"train": [], "val": [], "test": []}
        for name, sub in dirs.items():
            if (root / sub).is_dir() or explicit or name == "train":
                if not (root / sub).is_dir():
                    raise DataError(f"{root / sub}: {name} split folder not found")
                groups[name] = pairs_in(root / sub)
        if not groups["val"]:
            sizes = split_counts(len(groups["train"]), val_fraction, 0.0, str(root / dirs["train"]))
            train_idx, val_idx, _ = seeded_partition(len(groups["train"]), sizes, seed)
            pool = groups["train"]
            groups["train"], groups["val"] = [pool[i] for i in train_idx], [pool[i] for i in val_idx]
        return groups
    raise DataError(f"split must be 'fraction', 'stems' or 'folders', got '{split}'")
