"""The MorphNet pipeline for one case: base → (learn → shrink → expand) × iterations, or base → uniform."""

from __future__ import annotations

from bench.pipeline.plan import Stage, plan_case
from bench.pipeline.runner import RunOptions, StageEvent, case_status, run_case, stage_records

__all__ = ["RunOptions", "Stage", "StageEvent", "case_status", "plan_case", "run_case", "stage_records"]
