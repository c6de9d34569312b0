"""Each bad input is a one-line DataError that names the file or folder and what was expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data import create_dataset
from bench.errors import DataError


def _error(**kwargs) -> str:
    with pytest.raises(DataError) as info:
        splits = create_dataset("folder", **kwargs)
        for data in (splits.train, splits.val):
            for i in range(len(data)):
                data[i]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_root(tmp_path: Path) -> None:
    assert _error(root=tmp_path / "absent") == f"{tmp_path / 'absent'}: data set folder not found"


def test_missing_mask_folder(make_pairs) -> None:
    root = make_pairs()
    assert _error(root=root, mask_dir="labels") == f"{root / 'labels'}: mask folder not found"


def test_image_without_mask(make_pairs) -> None:
    root = make_pairs(n=3)
    (root / "masks" / "img1.png").unlink()
    message = _error(root=root)
    assert message.startswith(f"{root / 'images' / 'img1.png'}: no mask for key 'img1'")


def test_mask_without_image(make_pairs) -> None:
    root = make_pairs(n=3)
    (root / "images" / "img2.png").unlink()
    assert _error(root=root).startswith(f"{root / 'masks' / 'img2.png'}: mask has no image with key 'img2'")


def test_mask_size_differs(make_pairs, write_image) -> None:
    root = make_pairs(n=3, shape=(8, 12))
    write_image(root / "masks" / "img0.png", np.zeros((8, 10)))
    assert _error(root=root) == f"{root / 'masks' / 'img0.png'}: size 8x10 differs from its image img0.png (8x12)"


def test_corrupt_file(make_pairs) -> None:
    root = make_pairs(n=3)
    (root / "images" / "img1.png").write_bytes(b"\x89PNG garbage")
    assert _error(root=root).startswith(f"{root / 'images' / 'img1.png'}: cannot read as an image")


def test_truncated_file_fails_on_decode_naming_the_file(make_pairs) -> None:
    root = make_pairs(n=3, shape=(64, 64))
    path = root / "masks" / "img0.png"
    path.write_bytes(path.read_bytes()[:60])
    assert str(path) in _error(root=root, val_fraction=0.34)


def test_glob_matching_nothing(make_pairs) -> None:
    root = make_pairs()
    assert _error(root=root, mask_glob="*.gif") == f"{root / 'masks'}: no mask files match '*.gif'"


def test_fractions_leaving_an_empty_split(make_pairs) -> None:
    root = make_pairs(n=3)
    assert "val_fraction=0.1 of 3 items leaves an empty val split" in _error(root=root, val_fraction=0.1)
    assert "empty train split" in _error(root=root, val_fraction=0.5, test_fraction=0.5)


def test_tiles_leaving_an_empty_split(make_pairs) -> None:
    root = make_pairs(n=3, shape=(8, 12))
    assert "train split has no items after size_mode 'tile'" in _error(root=root, size_mode="tile", size=16)


def test_regex_not_matching_names_the_file(make_pairs) -> None:
    root = make_pairs(n=2)
    assert "img0.png: image file name does not match stem_regex" in _error(root=root, stem_regex=r"^\d+")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"encoding": "index"}, "encoding 'index' needs num_classes"),
        ({"encoding": "rgb"}, "encoding 'rgb' needs colour_map"),
        ({"encoding": "jpeg"}, "mask encoding must be 'binary', 'index' or 'rgb'"),
        ({"foreground_class": 1}, "foreground_class applies to index or rgb masks"),
        ({"encoding": "index", "num_classes": 3, "foreground_class": 3}, "foreground_class 3 is not a class"),
        ({"encoding": "index", "num_classes": 3, "ignore_index": 2}, "ignore_index 2 collides"),
        ({"size_mode": "tile"}, "size_mode 'tile' needs size"),
        ({"split": "random"}, "split must be 'fraction', 'stems' or 'folders'"),
        ({"colour_map": "/nonexistent.csv", "encoding": "rgb"}, "colour map file not found"),
        ({"split": "folders"}, "train split folder not found"),
    ],
)
def test_bad_options(make_pairs, options: dict, message: str) -> None:
    assert message in _error(root=make_pairs(), **options)


def test_unknown_option_is_a_data_error(make_pairs) -> None:
    assert "unexpected keyword argument 'mask_folder'" in _error(root=make_pairs(), mask_folder="m")
