"""Model specs on the command line: ``unet:base=16`` or ``smp_unet:encoder=resnet18,classes=2``."""

from __future__ import annotations

import json
from typing import Any

from torch import nn

from bench.errors import BenchError
from morph.errors import MorphError
from morph.models import MODELS, create_model


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``name:key=value,...`` into the registry name and keyword arguments (values parsed as JSON
    where they parse, else kept as strings)."""
    name, _, rest = spec.partition(":")
    if name not in MODELS:
        raise BenchError(f"model spec '{spec}': {MODELS.unknown_message(name)}")
    kwargs: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise BenchError(f"model spec '{spec}': expected key=value, got '{item}'")
        try:
            kwargs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key.strip()] = value.strip()
    return name, kwargs


def build_model(name: str, kwargs: dict[str, Any]) -> nn.Module:
    """Build a registered model, turning bad keyword arguments into one-line errors; the arguments are checked
    by the suite schema's rules first (names, types, bounds, no downloads), so ``bench model`` and a suite agree."""
    from pydantic import ValidationError

    from bench.suite._problems import SuiteError, from_validation
    from bench.suite.schema import ModelSettings

    try:
        ModelSettings.model_validate({"name": name, **kwargs})
    except ValidationError as exc:
        raise SuiteError(from_validation(f"model '{name}'", exc, ModelSettings)) from None
    try:
        return create_model(name, **kwargs)
    except MorphError as exc:
        raise BenchError(f"model '{name}': {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise BenchError(f"model '{name}' with {kwargs}: {exc}") from None


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``3x500x500`` → (3, 500, 500)."""
    try:
        shape = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise BenchError(f"--input: expected CxHxW with positive integers such as 3x128x128, got '{text}'")
    return shape
