"""What a suite file may say, as frozen pydantic models: the only place that validates suite settings.

Types are strict (TOML already has them: ``lr = "fast"`` is an error, not a parse attempt), unknown keys are
errors, and names are checked against the registries. ``[data]`` and ``[model]`` also take the builder's own
keyword arguments (``count``, ``size``; ``base``, ``depth``), checked against the builder's signature.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bench.suite import _registries as reg
from morph.registry import did_you_mean

# allow_inf_nan=False: TOML has inf and nan, and no setting means anything at either (a case id cannot even hash them)
_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)
_WITH_KWARGS = ConfigDict(strict=True, extra="allow", frozen=True, allow_inf_nan=False)
SECTIONS = ("data", "model", "train", "morph", "measure")

Optim = Literal["adam", "sgd"]
Dtype = Literal["float32", "float16", "bfloat16"]


def key_error(key: str, message: str) -> PydanticCustomError:
    """An error about a sub-key; :mod:`bench.suite._problems` appends ``key`` to the location."""
    return PydanticCustomError("bench_key", "{message}", {"key": key, "message": message})


def unknown_name(kind: str, name: str, known: list[str]) -> str:
    return f"unknown {kind} '{name}'{did_you_mean(name, known)}"


def _check_kwargs(settings: BaseModel, factory: Any, kind: str) -> None:
    """A builder's keyword arguments: known names, finite numbers, the builder's annotated types (strict, as
    everywhere in a suite; a TOML array may stand for a tuple) and the bounds in :data:`reg.ARGUMENT_BOUNDS`."""
    extra = settings.model_extra or {}
    for key, value in extra.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise key_error(key, f"expected a finite number (got {value})")
    accepted = reg.accepted_kwargs(factory)
    if accepted is not None:
        for key in extra:
            if key not in accepted:
                raise key_error(key, f"unknown key for {kind} '{getattr(settings, 'name')}'"
                                     f"{did_you_mean(key, sorted(accepted))}")
    hints = reg.argument_types(factory)
    for key, value in extra.items():
        if key in hints and not _fits(hints[key], value):
            raise key_error(key, f"expected {_type_name(hints[key])} for {kind} '{getattr(settings, 'name')}' "
                                 f"(got {value!r:.60})")
        bound = reg.ARGUMENT_BOUNDS.get(key)
        if bound is not None and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and not bound[1](value):
            raise key_error(key, f"expected a value {bound[0]} (got {value})")


def _fits(annotation: Any, value: Any) -> bool:
    def tuples(v: Any) -> Any:
        return tuple(tuples(x) for x in v) if isinstance(v, list) else v

    try:
        adapter = TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot model: the builder checks it itself
        return True
    for candidate in (value, tuples(value)):
        try:
            adapter.validate_python(candidate, strict=True)
            return True
        except ValidationError:
            continue
    return False


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


class DataSettings(BaseModel):
    """``name`` picks a registered data set; ``path`` (or the variable named by ``path_env``) its folder.

    ``data_seed`` picks the data: the synthetic scene family, or the seeded train/val/test split of a folder,
    Inria or CIFAR (it is passed as the builder's ``seed``). None keeps the builder's own default (0), as before
    the setting existed. The case's ``seed`` is separate: it changes initialisation and data order only, so the
    two kinds of variance can be studied apart (e.g. ``"data.data_seed" = [0, 1, 2]`` as a matrix axis).
    ``class_names`` (class index order) label the per-class rows of reports; they change no result, so they are
    not part of the case id.
    """

    model_config = _WITH_KWARGS
    name: str
    path: str | None = None
    path_env: str | None = None
    data_seed: int | None = None
    class_names: tuple[str, ...] | None = Field(None, strict=False, min_length=1)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        known = reg.dataset_names()
        if name not in known:
            raise ValueError(unknown_name("data set", name, known))
        return name

    @field_validator("class_names")
    @classmethod
    def _distinct(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is not None and (len(set(names)) != len(names) or not all(n.strip() for n in names)):
            raise ValueError("expected distinct, non-empty class names")
        return names

    @model_validator(mode="after")
    def _kwargs(self) -> DataSettings:
        for key in ("root", "path"):
            if key in (self.model_extra or {}):
                raise key_error(key, "give the folder as data.path")
        _check_kwargs(self, reg.dataset_factory(self.name), "data set")
        if self.data_seed is not None:
            if "seed" in (self.model_extra or {}):
                raise key_error("data_seed", "give either data.seed or data.data_seed, not both")
            accepted = reg.accepted_kwargs(reg.dataset_factory(self.name))
            if accepted is not None and "seed" not in accepted:
                raise key_error("data_seed", f"data set '{self.name}' takes no seed")
        return self

    @property
    def kwargs(self) -> dict[str, Any]:
        """The data set builder's keyword arguments (everything but name, path, path_env)."""
        return dict(self.model_extra or {})

    def builder_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``bench.data.create_dataset``: the folder goes in as ``root`` or ``path``,
        whichever the builder takes."""
        kwargs = self.kwargs
        if self.data_seed is not None:
            kwargs["seed"] = self.data_seed
        if self.path is not None:
            params = reg.accepted_kwargs(reg.dataset_factory(self.name)) or {"root"}
            kwargs["path" if "path" in params and "root" not in params else "root"] = self.path
        return kwargs


class ModelSettings(BaseModel):
    """``name`` picks a registered model; smp models also take an ``encoder``."""

    model_config = _WITH_KWARGS
    name: str
    encoder: str | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        known = reg.model_names()
        if name not in known:
            raise ValueError(unknown_name("model", name, known))
        return name

    @model_validator(mode="after")
    def _encoder_and_kwargs(self) -> ModelSettings:
        if self.encoder is not None:
            if not self.name.startswith("smp_"):
                raise key_error("encoder", f"only smp models take an encoder, not '{self.name}'")
            known = reg.encoder_names()
            if self.encoder not in known and not self.encoder.startswith("tu-"):
                raise key_error("encoder", unknown_name("smp encoder", self.encoder, known))
        weights = (self.model_extra or {}).get("encoder_weights")
        if weights is not None:
            raise key_error("encoder_weights", NO_DOWNLOADS.format(weights=weights))
        _check_kwargs(self, reg.model_factory(self.name), "model")
        return self

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``morph.models.create_model`` (encoder included when set)."""
        extra = dict(self.model_extra or {})
        return extra if self.encoder is None else {"encoder": self.encoder, **extra}


#: morph-bench never downloads anything behind the user's back (and the machines it runs on are often offline).
NO_DOWNLOADS = ("pretrained weights ('{weights}') need a download, which morph-bench never does; leave "
                "encoder_weights out (random initialisation)")


class TrainSettings(BaseModel):
    """Mirrors :class:`bench.train.config.TrainConfig`; seed and device come from the case and the command line."""

    model_config = _STRICT
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-4, gt=0)
    optimizer: Optim = "adam"
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    loss: str | None = None
    monitor: str | None = None
    blog_eval_mode_bug: bool = False
    amp: bool = False
    channels_last: bool = False
    deterministic: bool = False
    eval_train: bool = True
    eval_train_every_epoch: bool = False
    val_every: int = Field(1, ge=1)
    eval_batch_size: int | None = Field(None, ge=1)
    check_every: int | None = Field(None, ge=1)
    compile: bool = False
    max_steps_per_epoch: int | None = Field(None, ge=1)
    num_workers: int = Field(0, ge=0)

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str | None) -> str | None:
        known = reg.loss_names()
        if loss is not None and known is not None and loss not in known:
            raise ValueError(unknown_name("loss", loss, sorted(known)))
        return loss

    @model_validator(mode="after")
    def _whole_eval_batches(self) -> TrainSettings:
        if self.eval_batch_size is not None and self.eval_batch_size % self.batch_size:
            raise key_error("eval_batch_size", f"expected a multiple of batch_size ({self.batch_size})")
        return self

    @field_validator("monitor")
    @classmethod
    def _known_monitor(cls, monitor: str | None) -> str | None:
        known = reg.metric_names()
        if monitor is not None and monitor not in known:
            raise ValueError(unknown_name("metric", monitor, known) + f" (known: {', '.join(known)})")
        return monitor


class MorphSettings(BaseModel):
    """Structure learning. ``budget`` is in the resource's unit (parameters, FLOPs = 2·MACs, or seconds);
    ``optimizer``/``lr``/``epochs`` are for the regularized structure-learning run (None: as in ``[train]``).

    ``relative_strength`` reads ``strength`` as λ·G(θ₀), the penalty's size when structure learning starts, so
    that one value fits any model size and resource (MorphNet's advice: λ ≈ 1 / initial cost).
    ``strength_lr`` is the learning rate of the regularized strengths (BN γ) during structure learning: under
    Adam a γ moves at most ≈ lr per step, so from 1 it reaches 0 only when lr × steps ≫ 1.
    ``budget_share`` gives the budget as a share of the seed model's cost instead (e.g. 0.5: half its FLOPs or
    latency). ``budget_by="measurement"`` meets a latency budget by timing each candidate width multiplier on the
    run's device instead of the roofline model; with ``budget_share``, each candidate is timed back to back with the
    seed model and the cost is their ratio, so a machine whose speed drifts moves both alike. ``device_profile``
    is a registered latency device (default ``cpu2``, a roofline) or a calibrated profile file written by
    ``bench calibrate`` (``reports/devices/NAME.json``).
    ``target_cost`` (a share of the seed's cost, e.g. 0.5) steers λ during
    structure learning so that the alive cost falls to that share (:class:`morph.schedule.StrengthController`);
    ``strength`` is then only λ's starting value. ``channel_divisor`` (e.g. 8 or 16) makes every shrunk, expanded
    and uniform width a multiple of it (hardware-friendly widths), never above the seed width or the budget.
    ``remove_dead_layers`` drops, at shrink, each block conv whose channels all died in structure learning (the
    block becomes one conv shorter, :mod:`morph.layer_removal`) instead of keeping it at its floor width; U-Nets
    of ``morph.models`` only.
    ``learn_floor`` (e.g. 0.1) keeps the strongest share of each group's channels out of the proximal step during
    structure learning, so a FLOPs or latency cost cannot empty a full-resolution layer (issue 14).
    ``strength_warmup`` (epochs, e.g. 3) ramps λ linearly from 0 to its value over the first epochs of structure
    learning; a ``target_cost`` controller starts steering when the ramp ends. Measured on flops_target (seed 0,
    λ·G₀ 1000, floor 0.1), a 3- or 5-epoch ramp only moved the learn stage's collapse to the epochs where λ
    reached full strength (lowest val Dice 0.22 and 0.00 of the base's): it is there to measure, not a fix.
    ``learn_max_rate`` (e.g. 1) caps λ of the proximal step so that no channel shrinks by more than that many
    learning rates in one step (λ·max k_g ≤ learn_max_rate, :class:`morph.ProximalStep`), and a ``target_cost``
    controller does not wind λ up past the cap. Under Adam a task step is ≈ lr, so above 1 the task loss cannot
    hold the most expensive group's channels.
    ``learn_floor_ramp`` (epochs, e.g. 7) lowers the protected floor linearly from every channel of each group to
    ``learn_floor`` over the first epochs of structure learning, so a group loses its channels a few at a time
    (gradual pruning) instead of all unprotected ones within a step or two.
    ``warm_start`` starts structure learning from the trained weights of
    the previous stage (the blog started from a fresh init). ``index_shift_bug`` and ``dead_layers`` only
    matter for ``method="blog"`` (blog-code-facts §5, §7).
    """

    model_config = _STRICT
    method: str = "morphnet"
    resource: str = "flops"
    source: str = "gamma"
    strength: float = Field(1e-9, ge=0)
    threshold: float = Field(1e-2, gt=0)
    min_fraction: float = Field(0.0, ge=0, le=1)
    min_width: int = Field(1, ge=1)
    multiple: int = Field(1, ge=1)
    channel_divisor: int = Field(1, ge=1)
    learn_floor: float = Field(0.0, ge=0, lt=1)
    strength_warmup: float = Field(0.0, ge=0)
    learn_max_rate: float | None = Field(None, gt=0)
    learn_floor_ramp: float = Field(0.0, ge=0)
    remove_dead_layers: bool = False
    symmetry: int = Field(0, ge=0, le=3)
    budget: float | None = Field(None, gt=0)
    budget_share: float | None = Field(None, gt=0)
    expand_factor: float | None = Field(None, gt=0)
    iterations: int = Field(1, ge=1)
    optimizer: Optim | None = None
    lr: float | None = Field(None, gt=0)
    strength_lr: float | None = Field(None, gt=0)
    relative_strength: bool = False
    target_cost: float | None = Field(None, gt=0, lt=1)
    epochs: int = Field(5, ge=1)
    proximal: bool = False
    device_profile: str | None = None
    budget_by: Literal["model", "measurement"] = "model"
    warm_start: bool = True
    index_shift_bug: bool = False
    dead_layers: bool = True

    @field_validator("method", "resource", "source")
    @classmethod
    def _registered(cls, name: str, info: Any) -> str:
        known = reg.registered(info.field_name)
        if name not in known:
            raise ValueError(unknown_name(info.field_name, name, known))
        return name

    @field_validator("device_profile")
    @classmethod
    def _known_profile(cls, name: str | None) -> str | None:
        known = reg.device_profile_names()
        if name is not None and known is not None and name not in known and not name.endswith(".json"):
            raise ValueError(unknown_name("device profile", name, known))
        return name

    @model_validator(mode="after")
    def _one_target(self) -> MorphSettings:
        given = [k for k in ("budget", "budget_share", "expand_factor") if getattr(self, k) is not None]
        if len(given) > 1:
            raise key_error(given[-1], f"give one of budget, budget_share and expand_factor, not {' and '.join(given)}")
        if self.learn_floor > 0 and not self.proximal:
            raise key_error("learn_floor", "protects channels from the proximal step: needs proximal = true")
        if self.learn_max_rate is not None and not self.proximal:
            raise key_error("learn_max_rate", "caps the proximal step: needs proximal = true")
        if self.learn_floor_ramp > 0 and not self.proximal:
            raise key_error("learn_floor_ramp", "lowers the proximal step's floor: needs proximal = true")
        if self.strength_warmup >= self.epochs:
            raise key_error("strength_warmup", f"must be shorter than morph.epochs ({self.epochs}), got "
                            f"{self.strength_warmup:g}")
        return self


class MeasureSettings(BaseModel):
    """Latency protocol: run until both ``min_runs`` and ``min_time_s`` are reached, after ``warmup`` calls."""

    model_config = _STRICT
    batch_sizes: tuple[int, ...] = Field((1,), strict=False, min_length=1)
    input_size: tuple[int, int] | None = Field(None, strict=False)
    warmup: int = Field(10, ge=0)
    min_runs: int = Field(20, ge=1)
    min_time_s: float = Field(1.0, ge=0)
    threads: int | None = Field(None, ge=1)
    cudnn_benchmark: bool = True
    channels_last: bool = False
    dtype: Dtype = "float32"

    @field_validator("batch_sizes", "input_size")
    @classmethod
    def _positive(cls, values: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if values is not None and min(values) < 1:
            raise ValueError("expected positive integers")
        return values


class CaseConfig(BaseModel):
    """One case's fully resolved settings (profile merged, matrix values applied, data path resolved)."""

    model_config = _STRICT
    data: DataSettings
    model: ModelSettings
    train: TrainSettings = TrainSettings()
    morph: MorphSettings = MorphSettings()
    measure: MeasureSettings = MeasureSettings()


class _Layer(BaseModel):
    """Keys a profile may override (sections are checked later, once merged)."""

    model_config = _STRICT
    description: str | None = None
    seeds: tuple[int, ...] | None = Field(None, strict=False, min_length=1)
    matrix: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    morph: dict[str, Any] | None = None
    measure: dict[str, Any] | None = None

    @field_validator("seeds")
    @classmethod
    def _unique(cls, seeds: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError("expected distinct seeds")
        return seeds


class Profile(_Layer):
    """A ``[profiles.<name>]`` table: a partial override, deep-merged into the top level."""


class SuiteFile(_Layer):
    """The top level of a suite file, before profiles and the matrix are applied."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    profiles: dict[str, Profile] = {}
