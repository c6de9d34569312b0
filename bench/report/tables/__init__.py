"""Report tables: pure functions ``df -> DataFrame`` registered by name (house style 14).

Each takes :func:`bench.store.load_results` output and returns display-ready cells; :mod:`bench.report.render`
turns them into markdown. A table that spans case groups has a ``Group`` column; the renderer splits on it.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bench.errors import BenchError
from morph.registry import Registry

Table = Callable[[pd.DataFrame], pd.DataFrame]
_TABLES: Registry[Table] = Registry("report table", error=BenchError)
#: ``@register_table("stages")`` makes a table available to :func:`create_table` and the renderer.
register_table = _TABLES.register


def create_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Build the table ``name`` from loaded results; an unknown name is a one-line BenchError with a hint."""
    if name not in _TABLES:
        raise BenchError(_TABLES.unknown_message(name))
    return _TABLES.get(name)(df)


def table_names() -> list[str]:
    return _TABLES.names()


# Registration happens on import; these modules import register_table from here.
from bench.report.summary import summary_table  # noqa: E402
from bench.report.tables import setup as _setup  # noqa: E402,F401
from bench.report.tables import stages as _stages  # noqa: E402,F401
from bench.report.tables import widths as _widths  # noqa: E402,F401

register_table("summary")(summary_table)
