"""Bad training settings are refused at construction, each with one line."""

from __future__ import annotations

import re

import pytest

from bench.errors import BenchError
from bench.train import TrainConfig


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "train.epochs must be a positive integer, got 0"),
        ({"lr": -1.0}, "train.lr must be a positive number, got -1.0"),
        ({"optimizer": "rmsprop"}, "train.optimizer must be 'adam' or 'sgd', got 'rmsprop'"),
        ({"max_steps_per_epoch": 0}, "train.max_steps_per_epoch must be a positive integer, got 0"),
    ],
)
def test_bad_config_is_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BenchError, match=f"^{re.escape(message)}$"):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_defaults_follow_the_blog() -> None:
    config = TrainConfig()
    assert (config.optimizer, config.lr, config.batch_size, config.epochs, config.seed) == ("adam", 1e-4, 8, 30, 42)
    assert not config.blog_eval_mode_bug and config.loss is None and config.monitor is None
