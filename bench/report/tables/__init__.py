"""Report tables: pure functions ``df -> DataFrame`` registered by name (house style 14).

Each takes :func:`bench.store.load_results` output and returns display-ready cells; :mod:`bench.report.render`
turns them into markdown. A table that spans case groups has a ``Group`` column; the renderer splits on it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import pandas as pd

from bench.errors import BenchError

Table = Callable[[pd.DataFrame], pd.DataFrame]
_TABLES: dict[str, Table] = {}


def register_table(name: str) -> Callable[[Table], Table]:
    """``@register_table("stages")`` makes a table available to :func:`create_table` and the renderer."""

    def decorator(fn: Table) -> Table:
        if name in _TABLES:
            raise BenchError(f"report table '{name}' is registered twice")
        _TABLES[name] = fn
        return fn

    return decorator


def create_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Build the table ``name`` from loaded results; an unknown name is a one-line BenchError with a hint."""
    if name not in _TABLES:
        close = difflib.get_close_matches(name, _TABLES, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise BenchError(f"unknown report table '{name}'{hint} (known: {', '.join(table_names())})")
    return _TABLES[name](df)


def table_names() -> list[str]:
    return sorted(_TABLES)


# Registration happens on import; these modules import register_table from here.
from bench.report.summary import summary_table  # noqa: E402
from bench.report.tables import setup as _setup  # noqa: E402,F401
from bench.report.tables import stages as _stages  # noqa: E402,F401
from bench.report.tables import widths as _widths  # noqa: E402,F401

register_table("summary")(summary_table)
