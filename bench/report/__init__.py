"""Tables from stored results (pandas + tabulate); no torch, so reports render anywhere."""

from __future__ import annotations

from bench.report.summary import summary_table

__all__ = ["summary_table"]
