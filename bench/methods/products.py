"""What stages hand each other: a product (widths, weights) with typed facts for the stages after it.

Nothing here imports torch. On disk a product's facts and notes are one ``info`` dict in the stage checkpoint
(``widths.json``); the keys below are the ones results written before these types existed use, so old checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:  # no torch at import: method declarations (read by reports) name these types
    import torch


class Facts(Protocol):
    """Typed facts a stage's product carries for later stages; ``KEYS`` are their names in ``info``."""

    KEYS: ClassVar[tuple[str, ...]]

    def to_info(self) -> dict[str, Any]: ...

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Facts: ...


@dataclass(frozen=True)
class AliveWidths:
    """MorphNet's structure learning: alive channels per group, from which shrink derives widths."""

    alive: dict[str, int]
    KEYS: ClassVar[tuple[str, ...]] = ("alive",)

    def to_info(self) -> dict[str, Any]:
        return {"alive": self.alive}

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> AliveWidths:
        return cls({k: int(v) for k, v in info["alive"].items()})


@dataclass(frozen=True)
class BlogFractions:
    """The blog's method: alive fractions per blog conv (``red`` order) and, after an expand, its ``exp``."""

    fractions: list[float]
    exp: float | None = None
    KEYS: ClassVar[tuple[str, ...]] = ("blog_fac", "blog_exp")

    def to_info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"blog_fac": self.fractions}
        if self.exp is not None:
            out["blog_exp"] = self.exp
        return out

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> BlogFractions:
        return cls(list(info["blog_fac"]), info.get("blog_exp"))


#: The product note (and record extra) naming the block convs a stage's model goes without (layer removal).
REMOVED = "removed_layers"


def removal_notes(removed: list[str]) -> dict[str, Any]:
    """The notes of a model without the block convs ``removed``: which, and how many."""
    return {REMOVED: removed, "layers_removed": len(removed)}


@dataclass
class Product:
    """A stage's model: widths per channel group, its weights, typed facts for later stages, and notes (record
    fields kept with the product)."""

    widths: dict[str, int]
    state: dict[str, torch.Tensor] | None = None
    facts: Any = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def removed(self) -> tuple[str, ...]:
        """The block convs this model goes without (layer removal); its widths have no key for them."""
        return tuple(self.notes.get(REMOVED, ()))

    @property
    def info(self) -> dict[str, Any]:
        """What the checkpoint keeps besides widths and weights."""
        return {**self.notes, **(self.facts.to_info() if self.facts is not None else {})}

    @classmethod
    def from_info(cls, widths: dict[str, int], state: dict[str, torch.Tensor] | None, info: Mapping[str, Any],
                  facts_type: Any = None) -> Product:
        """A product read back from its checkpoint, its facts typed as the stage that wrote it declares."""
        if facts_type is None:
            return cls(widths, state, None, dict(info))
        notes = {k: v for k, v in info.items() if k not in facts_type.KEYS}
        return cls(widths, state, facts_type.from_info(info), notes)

    def facts_as(self, facts_type: Any) -> Any:
        """The facts if they are of ``facts_type``, else None (a base product has none)."""
        return self.facts if isinstance(self.facts, facts_type) else None


@dataclass
class Outcome:
    """A stage's result: its product (None when it failed) and the fields of its record."""

    product: Product | None
    fields: dict[str, Any]
