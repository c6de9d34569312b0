"""Per-channel strength, the alive decision and the proximal step: ``"gamma"`` (|BN γ|), ``"group_lasso"``
(weight RMS) and ``"logistic_sigmoid"`` (FiGS gates, :mod:`morph.gates`); ``register_source`` adds one."""

from __future__ import annotations

from morph.sources import gamma as _gamma  # noqa: F401  (registers the sources)
from morph.sources import logistic_sigmoid as _logistic_sigmoid  # noqa: F401
from morph.sources.base import (
    SOURCES, ChannelRMSStrength, GroupStrength, Member, ScaleStrength, channel_rms, create_source, register_source,
    source_names,
)

__all__ = [
    "SOURCES", "ChannelRMSStrength", "GroupStrength", "Member", "ScaleStrength", "channel_rms", "create_source",
    "register_source", "source_names",
]
