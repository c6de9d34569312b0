"""Calibrated latency models: time layer kinds on a device, fit, save a profile, check predictions.

Names load lazily so that ``bench.cli`` (which registers the commands) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GRIDS": "bench.calibrate.grid", "Grid": "bench.calibrate.grid",
    **{n: "bench.calibrate.profile" for n in ("Calibration", "calibrate", "fit_samples", "load_profile",
                                              "resolve_device", "save_profile")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench.calibrate' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
