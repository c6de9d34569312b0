"""Reports from stored results (pandas, tabulate, matplotlib/Agg); no torch, so they render anywhere.

Tables are pure ``df -> DataFrame`` functions registered by name (:func:`create_table`); figures are drawn in
:mod:`bench.report.figures`; only :mod:`bench.report.render` writes markdown and PNG files.
"""

from __future__ import annotations

from bench.report.sections import register_section
from bench.report.summary import summary_table
from bench.report.tables import create_table, register_table, table_names
from bench.report.tables.compare import compare_table
from bench.report.tables.stages import stages_table
from bench.report.tables.widths import widths_table

__all__ = [
    "compare_table", "create_table", "register_section", "register_table", "stages_table", "summary_table",
    "table_names", "widths_table",
]
