"""Calibrated latency models: time layer kinds on a device, fit, save a profile, check predictions."""

from __future__ import annotations

from bench.calibrate.grid import GRIDS, Grid
from bench.calibrate.profile import Calibration, calibrate, fit_samples, load_profile, resolve_device, save_profile

__all__ = ["GRIDS", "Calibration", "Grid", "calibrate", "fit_samples", "load_profile", "resolve_device", "save_profile"]
