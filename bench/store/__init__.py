"""Versioned result files, stage checkpoints and the environment they were made in."""

from __future__ import annotations

from bench.store.archive import read_archive, write_archives
from bench.store.checkpoints import Checkpoint, has_checkpoint, load_checkpoint, save_checkpoint
from bench.store.environment import environment, machine_id
from bench.store.loading import iter_records, load_records, load_results, record_statuses, should_run
from bench.store.records import (
    SCHEMA_VERSION, StageRecord, Status, read_record, record_path, stage_label, try_read_record, utc_now, write_record,
)
from bench.store.resume import STAGE_CACHE, resume_action, stage_cache

__all__ = [
    "STAGE_CACHE", "resume_action", "stage_cache",
    "SCHEMA_VERSION", "Checkpoint", "StageRecord", "Status", "environment", "has_checkpoint", "iter_records",
    "load_checkpoint", "load_records", "load_results", "machine_id", "read_archive", "read_record", "record_path",
    "record_statuses", "save_checkpoint", "should_run", "stage_label", "try_read_record", "utc_now", "write_archives",
    "write_record",
]
