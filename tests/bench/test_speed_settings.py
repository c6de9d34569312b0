"""Settings added for speed keep every existing case id and stage key (committed records stay valid)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.suite import SuiteError, load_suite, stage_key
from tests.bench.conftest import small_suite

BASE = small_suite("speed", base=8, depth=None, rest="[train]\nepochs = 2\nlr = 1e-3\n")
BASE_STAGE = ["data", "model", "train", "seed"]


def case(tmp_path: Path, extra: str = ""):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(BASE + extra))
    return load_suite(path).cases()[0]


@pytest.mark.parametrize("setting", [
    "eval_train_every_epoch = true", "eval_batch_size = 32", "check_every = 50",  # speed and logging only
    "val_every = 1", "compile = false",  # new, at their "as before" value
])
def test_new_train_settings_keep_the_id_and_the_base_stage_key(tmp_path: Path, setting: str) -> None:
    before = case(tmp_path)
    after = case(tmp_path, setting + "\n")
    assert after.id == before.id
    assert stage_key(after, "base", BASE_STAGE) == stage_key(before, "base", BASE_STAGE)


@pytest.mark.parametrize("setting", ["val_every = 2", "compile = true"])
def test_settings_that_can_change_the_kept_weights_change_the_id(tmp_path: Path, setting: str) -> None:
    before, after = case(tmp_path), case(tmp_path, setting + "\n")
    assert after.id != before.id
    assert stage_key(after, "base", BASE_STAGE) != stage_key(before, "base", BASE_STAGE)


def test_eval_batch_size_must_be_whole_training_batches(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        case(tmp_path, "batch_size = 8\neval_batch_size = 12\n")
    assert any("eval_batch_size" in p and "expected a multiple of batch_size (8)" in p for p in info.value.problems)


def test_records_without_per_epoch_scores_report(tiny_suite: Path, tmp_path: Path) -> None:
    """The new defaults (train scored once) and val every 2 epochs: records keep aligned history lists, the kept
    checkpoint's train metrics, and render."""
    import json

    from bench import api

    text = tiny_suite.read_text()
    assert "epochs = 1\nbatch_size = 8" in text
    tiny_suite.write_text(text.replace("epochs = 1\nbatch_size = 8", "epochs = 3\nbatch_size = 8\nval_every = 2"))
    uniform = [c.label for c in load_suite(tiny_suite).cases() if c.get("morph.method") == "uniform"]
    results = tmp_path / "results"
    assert api.run_suite(tiny_suite, results=results, only=uniform, progress=False).exit_code == 0
    base = json.loads(next(results.glob("*/base.json")).read_text())
    history = base["history"]
    assert history["val_dice"][0] is None and history["val_dice"][1] is not None  # epoch 0 not scored
    assert len(history["val_dice"]) == len(history["epoch"]) == 3 and "train_dice" not in history
    assert set(base["metrics"]["train"]) >= {"dice", "accuracy"} and base["extra"]["best_epoch"] in (1, 2)
    api.write_report([results], tmp_path / "reports")
    assert "Train Dice" in (tmp_path / "reports" / "tiny.md").read_text()
