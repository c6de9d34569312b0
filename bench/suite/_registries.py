"""Name lookups the suite schema checks against, in one place so tests can swap them.

Every function imports lazily: ``bench.data`` and segmentation-models-pytorch are heavy or still being written,
and a suite file with a typo should be rejected without building anything.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from typing import Any

#: ``morph.<key>`` → (module, registry): the names a suite may give are the registry's entries.
_MORPH_NAMES = {"method": ("bench.methods", "METHODS"), "resource": ("morph.resources", "RESOURCES"),
                "source": ("morph.sources", "SOURCES")}


def registered(kind: str) -> list[str]:
    """Names ``morph.method`` / ``morph.resource`` / ``morph.source`` may take (imported on first use)."""
    module, table = _MORPH_NAMES[kind]
    return getattr(importlib.import_module(module), table).names()  # type: ignore[no-any-return]


def model_names() -> list[str]:
    from morph.models import model_names as names

    return names()


def model_factory(name: str) -> Callable[..., Any] | None:
    from morph.models import MODELS

    return MODELS.get(name) if name in MODELS else None


def encoder_names() -> list[str]:
    from segmentation_models_pytorch.encoders import get_encoder_names

    return list(get_encoder_names())


def dataset_names() -> list[str]:
    from bench.data import dataset_names as names  # type: ignore[attr-defined]

    return list(names())


def dataset_factory(name: str) -> Callable[..., Any] | None:
    """The registered builder of a data set, or None where the registry cannot say."""
    try:
        from bench.data import DATASETS  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        return DATASETS.get(name)  # type: ignore[no-any-return]
    except Exception:
        return None


def dataset_needs_path(name: str) -> bool:
    """Whether a data set reads files: its builder takes a ``path`` (or ``root``) without a default.

    Without an inspectable builder, only names starting with ``synthetic`` are taken to need no folder.
    """
    factory = dataset_factory(name)
    params = _parameters(factory)
    if params is None:
        return not name.startswith("synthetic")
    for key in ("path", "root"):
        if key in params:
            return params[key].default is inspect.Parameter.empty
    return False


def accepted_kwargs(factory: Callable[..., Any] | None) -> set[str] | None:
    """Keyword names a builder accepts; None when it takes ``**kwargs`` or cannot be inspected."""
    params = _parameters(factory)
    if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def loss_names() -> set[str] | None:
    """Every loss name the trainer knows (binary or multi-class), or None if the trainer is not importable."""
    try:
        from bench.train.losses import loss_names as names
    except ImportError:
        return None
    return set(names(2)) | set(names(3))


def device_profile_names() -> list[str]:
    """Latency device profiles registered in ``morph.resources.DEVICES``."""
    from morph.resources import DEVICES

    return DEVICES.names()


def metric_names() -> list[str]:
    """Validation metrics ``train.monitor`` may name (any task)."""
    from bench.train.metrics import metric_names as names

    return sorted(set(names("segmentation")) | set(names("classification")))


#: Bounds on builder arguments, by name, for every builder that takes them (a U-Net of ``base = 0`` would build
#: 1-channel layers and report ok): ``name → (what is expected, test)``.
ARGUMENT_BOUNDS: dict[str, tuple[str, Callable[[float], bool]]] = {
    name: ("> 0", lambda v: v > 0) for name in ("base", "depth", "classes", "in_channels", "count", "size", "crop",
                                                "convs_per_level", "num_classes")
}


def argument_types(factory: Callable[..., Any] | None) -> dict[str, Any]:
    """A builder's annotated argument types ({} where they cannot be resolved)."""
    if factory is None:
        return {}
    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # noqa: BLE001 - unresolvable annotations (TYPE_CHECKING imports): names are still checked
        return {}
    hints.pop("return", None)
    return hints


def _parameters(factory: Callable[..., Any] | None) -> dict[str, inspect.Parameter] | None:
    if factory is None:
        return None
    try:
        return dict(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return None
