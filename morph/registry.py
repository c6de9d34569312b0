"""A name → factory table shared by models, sources, resources, devices and layer rules (smp/timm style).

Public so that the harness and user code register their own entries with the same lookup and the same
"did you mean" error as the library's tables.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from morph.errors import MorphError

T = TypeVar("T")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, else "": the one spelling hint of every message."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry(Generic[T]):
    """Maps names to factories and explains unknown names with a suggestion.

    Args:
        kind: what an entry is, for messages ("source").
        error: the exception a lookup or a second registration raises (a harness passes its own family).
    """

    def __init__(self, kind: str, error: type[Exception] = MorphError) -> None:
        self.kind, self.error = kind, error
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items:
                raise self.error(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            return item

        return decorator

    def unregister(self, name: str) -> T:
        """Remove an entry (a plugin's or a test's); returns it."""
        if name not in self._items:
            raise self.error(self.unknown_message(name))
        return self._items.pop(name)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self.error(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        return f"unknown {self.kind} '{name}'{did_you_mean(name, self._items)} (known: {', '.join(sorted(self._items))})"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
