"""Compatibility alias: the registry is public as :mod:`morph.registry`."""

from morph.registry import Registry

__all__ = ["Registry"]
