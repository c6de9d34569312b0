from __future__ import annotations


import numpy as np
import pytest
import torch

from bench.data import SyntheticBuildings, create_dataset, dataset_names
from bench.data._scene import render_scene
from bench.data.splits import DatasetSplits
from bench.errors import DataError


def test_item_contract() -> None:
    data = SyntheticBuildings(4, size=64, seed=1)
    image, mask = data[2]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert mask.shape == (64, 64) and mask.dtype == torch.int64
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert set(mask.unique().tolist()) <= {0, 1}
    assert data.num_classes == 2 and data.ignore_index is None


def test_item_depends_only_on_seed_index_size() -> None:
    a = SyntheticBuildings(10, size=48, seed=3)[7]
    b = SyntheticBuildings(8, size=48, seed=3)[7]  # a different count changes nothing
    image, mask = render_scene(np.random.default_rng([3, 7]), 48)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(a[1], torch.from_numpy(mask.astype(np.int64)))
    assert not torch.equal(a[0], SyntheticBuildings(10, size=48, seed=4)[7][0])
    assert not torch.equal(a[0], SyntheticBuildings(10, size=48, seed=3)[6][0])


def test_scenes_have_buildings_in_target_share_and_varied_colours() -> None:
    rng_masks = [render_scene(np.random.default_rng([0, i]), 128) for i in range(24)]
    shares = [m.mean() for _, m in rng_masks]
    assert 0.12 < np.mean(shares) < 0.38
    assert all(0.05 < s < 0.45 for s in shares)
    roof_means = [img[m.astype(bool)].mean() for img, m in rng_masks]
    ground_means = [img[~m.astype(bool)].mean() for img, m in rng_masks]
    # Colour alone must not separate the classes: roof brightness spans the background's.
    assert min(roof_means) < np.median(ground_means) < max(roof_means)


def test_factory_splits_are_disjoint_ranges() -> None:
    splits = create_dataset("synthetic_buildings", count=16, size=32, seed=0)
    assert isinstance(splits, DatasetSplits)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (12, 2, 2)
    assert splits.train.indices == list(range(12))
    assert splits.val.indices == [12, 13] and splits.test.indices == [14, 15]
    assert splits.task == "segmentation" and splits.num_classes == 2
    assert splits.val.num_classes == 2 and splits.val.ignore_index is None
    assert torch.equal(splits.val[0][0], SyntheticBuildings(16, 32, 0)[12][0])


def test_no_test_split_when_fraction_is_zero() -> None:
    splits = create_dataset("synthetic_buildings", count=8, size=32, test_fraction=0.0)
    assert splits.test is None and len(splits.train) == 7


def test_registered_names() -> None:
    assert dataset_names() == ["cifar10", "folder", "inria", "synthetic_buildings"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 4, "val_fraction": 0.1}, "empty val split"),
        ({"count": 4, "val_fraction": 0.5, "test_fraction": 0.5}, "empty train split"),
        ({"count": 0}, "count must be at least 1"),
        ({"count": 8, "val_fraction": 1.5}, "val_fraction must be in"),
    ],
)
def test_bad_options_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        create_dataset("synthetic_buildings", **kwargs)
    assert "\n" not in str(info.value)


def test_unknown_name_suggests() -> None:
    with pytest.raises(DataError, match="did you mean 'folder'"):
        create_dataset("foldr")


def test_scenes_are_rendered_once_and_match_a_fresh_render() -> None:
    """The kept tensors give the same bits as today's per-item conversion, and a second pass renders nothing."""
    from bench.data.synthetic import scene_store

    store = scene_store(11, 40, 5)
    assert store.renders == 0
    first = [SyntheticBuildings(5, size=40, seed=11)[i] for i in range(5)]
    again = [SyntheticBuildings(5, size=40, seed=11)[i] for i in range(5)]  # a new dataset object, as a later stage
    assert store.renders == 5
    for i, ((image, mask), (image2, mask2)) in enumerate(zip(first, again)):
        raw_image, raw_mask = render_scene(np.random.default_rng([11, i]), 40)
        expected = torch.from_numpy(raw_image.transpose(2, 0, 1).astype(np.float32)).div_(255.0)
        assert torch.equal(image, expected) and torch.equal(mask, torch.from_numpy(raw_mask.astype(np.int64)))
        assert torch.equal(image, image2) and torch.equal(mask, mask2)
    first[0][0].zero_()  # a caller writing into an item must not reach the kept scenes
    assert torch.equal(SyntheticBuildings(5, size=40, seed=11)[0][0], again[0][0])
