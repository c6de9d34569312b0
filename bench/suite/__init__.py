"""Suite files: validated TOML that expands into frozen, hashed cases (see :mod:`bench.suite.loader`)."""

from __future__ import annotations

from bench.suite._problems import SuiteError
from bench.suite.case import PROTOCOL_VERSION, Case, Suite, canonical_json, stage_key
from bench.suite.loader import dataset_env_var, load_suite
from bench.suite.schema import (
    CaseConfig, DataSettings, MeasureSettings, ModelSettings, MorphSettings, TrainSettings,
)

__all__ = [
    "PROTOCOL_VERSION", "Case", "CaseConfig", "DataSettings", "MeasureSettings", "ModelSettings", "MorphSettings",
    "Suite", "SuiteError", "TrainSettings", "canonical_json", "dataset_env_var", "load_suite", "stage_key",
]
