"""Versioned result files, stage checkpoints and the environment they were made in."""

from __future__ import annotations

from bench.store.checkpoints import Checkpoint, has_checkpoint, load_checkpoint, save_checkpoint
from bench.store.environment import environment, machine_id
from bench.store.loading import load_results, record_statuses, should_run
from bench.store.records import (
    SCHEMA_VERSION, StageRecord, Status, read_record, record_path, utc_now, write_record,
)

__all__ = [
    "SCHEMA_VERSION", "Checkpoint", "StageRecord", "Status", "environment", "has_checkpoint", "load_checkpoint",
    "load_results", "machine_id", "read_record", "record_path", "record_statuses", "save_checkpoint", "should_run",
    "utc_now", "write_record",
]
