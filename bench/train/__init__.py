"""Training: one loop for every stage, losses and metrics by name, seeding that makes runs repeatable."""

from __future__ import annotations

from bench.train.config import TIMING_KEYS, TrainConfig, TrainHooks, TrainResult
from bench.train.determinism import deterministic_algorithms, seed_everything, seeded
from bench.train.evaluate import evaluate
from bench.train.loop import cpu_state, train
from bench.train.losses import create_loss, loss_names
from bench.train.metrics import ClassificationMetrics, SegmentationMetrics, create_metrics

__all__ = [
    "TIMING_KEYS", "ClassificationMetrics", "SegmentationMetrics", "TrainConfig", "TrainHooks", "TrainResult",
    "cpu_state", "create_loss", "create_metrics", "deterministic_algorithms", "evaluate", "loss_names",
    "seed_everything", "seeded", "train",
]
