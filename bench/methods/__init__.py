"""Compression methods the pipeline runs (``morph.method``), one module each, registered in :data:`METHODS`."""

from __future__ import annotations

from bench.methods.base import (
    BASE, METHODS, Method, StageSettings, StageSpec, all_stage_specs, baseline_matched_settings, baseline_names,
    baseline_stages, get_method, learner_final_stages, register_method, stage_title,
)
from bench.methods import blog, morphnet, pruning, uniform  # noqa: E402,F401  (registers the shipped methods)

__all__ = [
    "BASE", "METHODS", "Method", "StageSettings", "StageSpec", "all_stage_specs", "baseline_matched_settings",
    "baseline_names", "baseline_stages", "get_method", "learner_final_stages", "register_method", "stage_title",
]
