"""Per-channel strength and the alive decision: ``"gamma"`` (|BN γ|) and ``"group_lasso"`` (weight RMS)."""

from __future__ import annotations

from morph.sources import gamma as _gamma  # noqa: F401  (registers the sources)
from morph.sources.base import SOURCES, GroupStrength, Member, channel_rms, create_source, register_source, source_names

__all__ = ["SOURCES", "GroupStrength", "Member", "channel_rms", "create_source", "register_source", "source_names"]
