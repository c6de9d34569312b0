from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data import create_dataset
from bench.data._geometry import Window, cut, windows
from bench.errors import DataError


def test_binary_pairs_by_stem_with_mask_suffix(make_pairs) -> None:
    root = make_pairs(n=5, mask_name="{stem}_manual1.png")
    splits = create_dataset("folder", root=root, mask_suffix="_manual1", val_fraction=0.2, seed=0)
    assert (len(splits.train), len(splits.val), splits.test) == (4, 1, None)
    image, mask = splits.train[0]
    assert image.shape == (3, 8, 12) and image.dtype == torch.float32
    assert mask.dtype == torch.int64 and mask[:, :6].eq(1).all() and mask[:, 6:].eq(0).all()
    assert splits.num_classes == 2 and splits.ignore_index == 255 == splits.train.ignore_index
    # Pixels say which file was read: image i is filled with 10*i.
    assert image.mul(255).round().unique().tolist() == [10 * int(splits.train.pairs[0].key[3:])]


def test_fraction_split_is_seeded_and_by_whole_image(make_pairs) -> None:
    root = make_pairs(n=10, shape=(8, 8))
    a = create_dataset("folder", root=root, val_fraction=0.3, seed=1, size_mode="tile", size=4)
    b = create_dataset("folder", root=root, val_fraction=0.3, seed=1, size_mode="tile", size=4)
    c = create_dataset("folder", root=root, val_fraction=0.3, seed=2, size_mode="tile", size=4)
    keys = lambda d: [p.key for p in d.pairs]  # noqa: E731
    assert keys(a.val) == keys(b.val) and keys(a.val) != keys(c.val)
    assert not set(keys(a.train)) & set(keys(a.val))
    assert (len(a.train), len(a.val)) == (7 * 4, 3 * 4)


def test_regex_key_pairs_different_names(write_image, tmp_path: Path) -> None:
    root = tmp_path / "drive_like"
    for i in (21, 22, 23):
        write_image(root / "images" / f"{i}_training.png", np.zeros((6, 6, 3)))
        write_image(root / "gt" / f"{i}_manual1.png", np.eye(6) * 255)
        write_image(root / "fov" / f"{i}_training_mask.png", np.pad(np.full((4, 4), 255), 1))
    splits = create_dataset("folder", root=root, mask_dir="gt", roi_dir="fov", stem_regex=r"^(\d+)_",
                            split="stems", val_stems=["22"])
    assert [p.key for p in splits.val.pairs] == ["22"] and [p.key for p in splits.train.pairs] == ["21", "23"]
    _, mask = splits.val[0]
    assert mask[0].eq(255).all() and mask[:, 0].eq(255).all()  # outside the ROI
    assert mask[1, 1] == 1 and mask[1, 2] == 0 and mask[2, 2] == 1


def test_binary_reads_luminance_palette_and_zero_one_masks(write_image, tmp_path: Path) -> None:
    root = tmp_path / "s"
    write_image(root / "images" / "a.png", np.zeros((4, 4), np.uint8))
    write_image(root / "masks" / "a.png", np.dstack([np.tile([0, 200, 0, 200], (4, 1))] * 3))
    write_image(root / "images" / "b.png", np.zeros((4, 4), np.uint8))
    pal = Image.fromarray(np.tile(np.array([0, 1, 1, 0], np.uint8), (4, 1)), mode="P")
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    pal.save(root / "masks" / "b.gif")
    write_image(root / "images" / "c.png", np.zeros((4, 4), np.uint8))
    write_image(root / "masks" / "c.png", np.tile(np.array([1, 0, 0, 1], np.uint8), (4, 1)))
    write_image(root / "images" / "d.png", np.zeros((4, 4), np.uint8))
    write_image(root / "masks" / "d.png", np.zeros((4, 4), np.uint8))
    splits = create_dataset("folder", root=root, split="stems", val_stems=["a"], test_stems=["b", "c"])
    assert splits.val[0][0].shape == (1, 4, 4)
    assert splits.val[0][1][0].tolist() == [0, 1, 0, 1]
    assert splits.test[0][1][0].tolist() == [0, 1, 1, 0]
    assert splits.test[1][1][0].tolist() == [1, 0, 0, 1]
    inverted = create_dataset("folder", root=root, split="stems", val_stems=["a"], invert=True)
    assert inverted.val[0][1][0].tolist() == [1, 0, 1, 0]


def _index_set(write_image, root: Path) -> Path:
    write_image(root / "images" / "x.png", np.zeros((2, 4, 3)))
    write_image(root / "masks" / "x.png", np.array([[0, 1, 2, 3], [3, 2, 1, 0]]))
    write_image(root / "images" / "y.png", np.zeros((2, 4, 3)))
    write_image(root / "masks" / "y.png", np.array([[1, 1, 1, 1], [0, 0, 0, 0]]))
    return root


def test_index_encoding_ignore_values_and_foreground(write_image, tmp_path: Path) -> None:
    root = _index_set(write_image, tmp_path / "s")
    multi = create_dataset("folder", root=root, encoding="index", num_classes=3, ignore_values=[3],
                           split="stems", val_stems=["x"])
    assert multi.num_classes == 3 and multi.val.num_classes == 3
    assert multi.val[0][1].tolist() == [[0, 1, 2, 255], [255, 2, 1, 0]]
    binary = create_dataset("folder", root=root, encoding="index", num_classes=3, ignore_values=[3],
                            foreground_class=2, split="stems", val_stems=["x"])
    assert binary.num_classes == 2
    assert binary.val[0][1].tolist() == [[0, 0, 1, 255], [255, 1, 0, 0]]


def test_index_value_outside_classes_is_an_error(write_image, tmp_path: Path) -> None:
    root = _index_set(write_image, tmp_path / "s")
    splits = create_dataset("folder", root=root, encoding="index", num_classes=3, split="stems", val_stems=["x"])
    with pytest.raises(DataError, match=r"x.png: mask value 3 is not a class in 0..2"):
        splits.val[0]


def test_rgb_encoding_from_csv_colour_map(write_image, tmp_path: Path) -> None:
    root = tmp_path / "s"
    (tmp_path / "classes.csv").write_text("name,r,g,b\nsky,128,128,128\nroad,128,64,128\nvoid,0,0,0\n")
    colours = np.array([[[128, 128, 128], [128, 64, 128], [0, 0, 0], [9, 9, 9]]], np.uint8)
    for stem in ("p", "q"):
        write_image(root / "images" / f"{stem}.png", np.zeros((1, 4, 3)))
        write_image(root / "labels" / f"{stem}_L.png", colours)
    kwargs = dict(root=root, mask_dir="labels", mask_suffix="_L", encoding="rgb",
                  colour_map=str(tmp_path / "classes.csv"), split="stems", val_stems=["p"])
    splits = create_dataset("folder", **kwargs)
    assert splits.num_classes == 3
    assert splits.val[0][1].tolist() == [[0, 1, 2, 255]]
    splits = create_dataset("folder", **kwargs, ignore_values=[2])
    assert splits.num_classes == 2 and splits.val[0][1].tolist() == [[0, 1, 255, 255]]
    splits = create_dataset("folder", **kwargs | {"colour_map": {"128,64,128": 0, "128,128,128": 1}})
    assert splits.val[0][1].tolist() == [[1, 0, 255, 255]]


def test_geometry_windows() -> None:
    assert windows((10, 7), "crop", (4, 4), "center") == [Window(3, 1, 4, 4)]
    assert windows((10, 7), "crop", (4, 4), "top_left") == [Window(0, 0, 4, 4)]
    assert len(windows((10, 7), "tile", (4, 4), edge="drop")) == 2 * 1
    assert len(windows((10, 7), "tile", (4, 4), edge="pad")) == 3 * 2
    assert windows((10, 7), "pad", (12, 8)) == [Window(0, 0, 12, 8)]
    with pytest.raises(DataError, match="larger than pad size"):
        windows((10, 7), "pad", (8, 8), where="a.png")
    padded = cut(np.ones((2, 3), np.int64), Window(1, 1, 2, 3), 255)
    assert padded.tolist() == [[1, 1, 255], [255, 255, 255]]


@pytest.mark.parametrize(
    ("options", "count", "shape"),
    [
        ({"size_mode": "crop", "size": 4}, 1, (4, 4)),
        ({"size_mode": "crop", "size": [4, 6], "crop_anchor": "top_left"}, 1, (4, 6)),
        ({"size_mode": "tile", "size": 4}, 2 * 3, (4, 4)),
        ({"size_mode": "tile", "size": 5, "tile_edge": "pad"}, 2 * 3, (5, 5)),
        ({"size_mode": "pad", "size": [16, 16]}, 1, (16, 16)),
    ],
)
def test_size_modes(make_pairs, options: dict, count: int, shape: tuple[int, int]) -> None:
    root = make_pairs(n=2, shape=(8, 12))
    splits = create_dataset("folder", root=root, split="stems", val_stems=["img1"], **options)
    assert len(splits.val) == count
    image, mask = splits.val[count - 1]
    assert image.shape == (3, *shape) and mask.shape == shape
    if options["size_mode"] == "pad":
        assert mask[8:].eq(255).all() and mask[:, 12:].eq(255).all() and image[:, 8:].eq(0).all()
        assert mask[:8, :6].eq(1).all()
    if options.get("tile_edge") == "pad":
        assert mask[3:].eq(255).all() and mask[:, 2:].eq(255).all()  # last tile: rows 5..9, cols 10..14


def test_folder_split_with_and_without_val(make_pairs, tmp_path: Path) -> None:
    root = tmp_path / "byfolder"
    make_pairs(n=4, base=root / "train")
    make_pairs(n=2, base=root / "test", stems=["t0", "t1"])
    splits = create_dataset("folder", root=root, split="folders", val_fraction=0.25)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (3, 1, 2)
    make_pairs(n=1, base=root / "val", stems=["v0"])
    splits = create_dataset("folder", root=root, split="folders")
    assert [p.key for p in splits.val.pairs] == ["v0"] and len(splits.train) == 4
    renamed = create_dataset("folder", root=root, split="folders", split_dirs={"train": "train", "val": "test"})
    assert len(renamed.val) == 2 and renamed.test is None


def test_stems_split_errors(make_pairs) -> None:
    root = make_pairs(n=3)
    with pytest.raises(DataError, match="val_stems entry 'nope' matches no image/mask pair"):
        create_dataset("folder", root=root, split="stems", val_stems=["nope"])
    with pytest.raises(DataError, match="listed in more than one split"):
        create_dataset("folder", root=root, split="stems", val_stems=["img0"], test_stems=["img0"])
    with pytest.raises(DataError, match="needs val_stems"):
        create_dataset("folder", root=root, split="stems")


def test_shuffled_tiles_decode_each_image_once_per_epoch(make_pairs) -> None:
    """The old 4-image LRU re-decoded an image for almost every shuffled tile once the set had more images."""
    root = make_pairs(n=12, shape=(16, 16))
    train = create_dataset("folder", root=root, val_fraction=0.25, seed=0, size_mode="tile", size=4).train
    assert len(train) == 9 * 16
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
    for _ in range(2):  # two epochs
        for i in order:
            train[i]
    assert train._cache.decodes == 9


def test_byte_budget_evicts_least_recently_used(make_pairs) -> None:
    from bench.data.folder import FolderSegmentation

    root = make_pairs(n=3, shape=(8, 8))
    pairs = create_dataset("folder", root=root, val_fraction=0.34, seed=0).train.pairs
    one_pair = 8 * 8 * 3 + 8 * 8 * 8  # uint8 RGB image + int64 mask
    data = FolderSegmentation(pairs, create_dataset("folder", root=root, val_fraction=0.34).train.decoder,
                              cache_bytes=one_pair)
    data[0], data[1], data[1], data[0]
    assert data._cache.decodes == 3 and len(data._cache) == 1  # 0, 1, then 0 again: only one pair fits
    first = data[0]
    assert data._cache.decodes == 3 and torch.equal(first[0], data[0][0])
