"""Compatibility alias: the registry is public as :mod:`morph.registry`."""

from morph.registry import Registry, did_you_mean

__all__ = ["Registry", "did_you_mean"]
