"""Extra sections of ``reports/index.md``: a name → function table, so a later analysis plugs in without
touching the renderer.

The lead's "blog vs this run" comparison goes in :func:`blog_comparison` (or any function registered with
:func:`register_section`); a section function returns markdown, or None to leave the section out. A hand-written
``blog_comparison.md`` in the reports folder is linked from the index as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from bench.errors import BenchError
from morph.registry import Registry

Section = Callable[[pd.DataFrame], "str | None"]
_SECTIONS: Registry[Section] = Registry("report section", error=BenchError)
BLOG_COMPARISON = "Blog vs this run"
BLOG_FRAGMENT = "blog_comparison.md"
VERSUS_UNIFORM = "MorphNet and the pruning baselines vs uniform at equal budget"
RANKING = "Method ranking at each budget"
#: ``@register_section("Blog vs this run")``: the function gets every loaded record (all suites).
register_section = _SECTIONS.register


@register_section(BLOG_COMPARISON)
def blog_comparison(df: pd.DataFrame) -> str | None:
    """The blog's published numbers (Tables 1–3, 5) next to this run's, and its four conclusions checked on
    this run's records: each "holds", "does not hold" or "not run", with the numbers behind the verdict.
    Returns None when there are no records at all."""
    if df is None or df.empty:
        return None
    from bench.report import _blog

    return _blog.render(df)


@register_section(VERSUS_UNIFORM)
def morphnet_vs_uniform(df: pd.DataFrame) -> str | None:
    """Each case group's last Expanded model against its uniform baseline, val and test Dice, with a tally."""
    if df is None or df.empty:
        return None
    from bench.report import _versus

    return _versus.render(df)


@register_section(RANKING)
def method_ranking(df: pd.DataFrame) -> str | None:
    """Every budget that ≥ 3 methods reached, its methods ranked by val quality with intervals, and whether
    the leader's lead over the runner-up is shown."""
    if df is None or df.empty:
        return None
    from bench.report import _ranking

    return _ranking.render(df)


def index_sections(df: pd.DataFrame, extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(title, markdown) of every registered section that has something to say, in title order, then ``extra``
    in the caller's order (an extra section replaces a registered one of the same title)."""
    extra = dict(extra or {})
    out = []
    for title in _SECTIONS:  # sorted by title
        if title in extra:
            continue
        body = _SECTIONS.get(title)(df)
        if body:
            out.append((title, body.strip()))
    return out + [(title, body.strip()) for title, body in extra.items()]
