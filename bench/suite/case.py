"""Cases: fully resolved, frozen, hashed settings; and stage keys, so stages shared between cases run once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.suite.schema import CaseConfig

#: Bump when the meaning of a setting changes without its value changing: every id changes with it.
PROTOCOL_VERSION = 1
#: Where the data lives does not change a result, so it is left out of every hash (results merge across machines);
#: nor do the training settings that change only speed and what is logged, never the trained weights.
UNHASHED = (("data", "path"), ("data", "path_env"), ("data", "class_names"), ("train", "eval_train_every_epoch"),
            ("train", "eval_batch_size"), ("train", "check_every"))
#: Settings added after results existed, with the default that means "as before": left out of the hash while at
#: that default, so adding a setting keeps every existing case id (and its finished stages) valid.
ADDED = ((("morph", "target_cost"), None), (("data", "data_seed"), None), (("morph", "channel_divisor"), 1),
         (("train", "val_every"), 1), (("train", "compile"), False), (("morph", "learn_floor"), 0.0),
         (("morph", "remove_dead_layers"), False), (("morph", "strength_warmup"), 0.0),
         (("morph", "learn_max_rate"), None), (("morph", "learn_floor_ramp"), 0.0),
         (("morph", "budget_share"), None))
_ADDED_KEYS = {f"{section}.{key}" for (section, key), _ in ADDED}
_SHORT = {"symmetry": "sym", "strength": "lam", "expand_factor": "expand", "batch_size": "bs", "threshold": "thr"}


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII: the same settings always give the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def short_hash(value: Any, length: int = 12) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


def hashed_settings(config: CaseConfig) -> dict[str, Any]:
    """The settings that define a result: everything but the data location."""
    settings = config.model_dump(mode="json")
    for section, key in UNHASHED:
        settings[section].pop(key, None)
    for (section, key), default in ADDED:
        if settings[section].get(key, default) == default:
            settings[section].pop(key, None)
    return settings


@dataclass(frozen=True)
class Case:
    """One run of the pipeline: resolved settings plus a seed.

    Attributes:
        id: first 12 hex digits of sha256 over the canonical JSON of (protocol, settings, seed); key order and
            the data path do not matter, any other change does.
        label: the matrix values that single this case out, e.g. ``"sym=2,seed=0"``.
        matrix: (dotted key, value) pairs set by the matrix (axes and include entries).
    """

    suite: str
    id: str
    label: str
    seed: int
    config: CaseConfig
    matrix: tuple[tuple[str, Any], ...] = ()
    profile: str = "quick"

    @classmethod
    def create(
        cls, suite: str, config: CaseConfig, seed: int, matrix: Mapping[str, Any] | None = None, profile: str = "quick"
    ) -> Case:
        """Build a case and compute its id and label."""
        pairs = tuple((matrix or {}).items())
        case_id = short_hash({"protocol": PROTOCOL_VERSION, "settings": hashed_settings(config), "seed": seed})
        return cls(suite, case_id, make_label(pairs, seed), seed, config, pairs, profile)

    def settings(self) -> dict[str, Any]:
        """The resolved settings as a plain nested dict (JSON types)."""
        return self.config.model_dump(mode="json")

    def get(self, key: str) -> Any:
        """A setting by dotted key, e.g. ``case.get("morph.symmetry")``; ``"seed"`` gives the seed."""
        return self.seed if key == "seed" else lookup(self.settings(), key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, e.g. for a frozen ``cases.json`` or a worker process."""
        return {
            "suite": self.suite, "id": self.id, "label": self.label, "seed": self.seed, "profile": self.profile,
            "matrix": [list(p) for p in self.matrix], "config": self.settings(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        """Inverse of :meth:`to_dict`; the settings are validated again and the id must still agree."""
        config = CaseConfig.model_validate(data["config"])
        case = cls.create(data["suite"], config, data["seed"], dict(map(tuple, data["matrix"])), data["profile"])
        if case.id != data["id"]:
            raise BenchError(f"case {data['id']}: id: expected {case.id} for these settings (written by another version?)")
        return case


def stage_key(case: Case, stage: str, depends_on: Iterable[str]) -> str:
    """Hash only what a stage depends on, so cases that agree there share the stage's product.

    Args:
        stage: the stage name (part of the key).
        depends_on: dotted keys, whole sections (``"train"``) or leaves (``"morph.strength"``); ``"seed"`` for the
            seed. E.g. base training depends on ``["data", "model", "train", "seed"]`` and so serves every
            symmetry level.

    Raises:
        BenchError: a key that names no setting.
    """
    settings = hashed_settings(case.config)
    deps = {}
    for key in sorted(set(depends_on)):
        try:
            deps[key] = case.seed if key == "seed" else lookup(settings, key)
        except KeyError:
            if key in _ADDED_KEYS:  # at its "as before" default: hashed as absent, like the case id
                continue
            raise BenchError(f"stage '{stage}': depends_on: '{key}' names no setting") from None
    return short_hash({"protocol": PROTOCOL_VERSION, "stage": stage, "depends_on": deps})


def lookup(settings: Mapping[str, Any], key: str) -> Any:
    """``lookup(d, "a.b")`` → ``d["a"]["b"]``; raises KeyError."""
    value: Any = settings
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def make_label(pairs: Iterable[tuple[str, Any]], seed: int) -> str:
    pairs = list(pairs)
    lasts = [k.rsplit(".", 1)[-1] for k, _ in pairs]
    parts = []
    for (key, value), last in zip(pairs, lasts):
        name = _SHORT.get(last, last) if lasts.count(last) == 1 else key
        parts.append(f"{name}={_fmt(value)}")
    return ",".join([*parts, f"seed={seed}"])


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    return canonical_json(value)


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its cases under one profile."""

    name: str
    description: str
    path: Path
    profile: str
    case_list: tuple[Case, ...]
    axes: tuple[str, ...] = ()

    def cases(self) -> list[Case]:
        return list(self.case_list)

    def case(self, case_id: str) -> Case:
        """The case with this id (or unique id prefix)."""
        found = [c for c in self.case_list if c.id.startswith(case_id)]
        if len(found) != 1:
            raise BenchError(f"{self.path}: case '{case_id}': expected one matching id, found {len(found)}")
        return found[0]
