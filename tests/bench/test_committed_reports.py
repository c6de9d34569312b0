"""The rendered reports committed under reports/ are what `bench report reports/records` gives today.

If this fails after a change to the report code, re-render with `nox -s reports` (or
`bench report reports/records --out reports`) and commit the new reports with the change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import api

REPORTS = Path(__file__).resolve().parents[2] / "reports"


@pytest.mark.skipif(not (REPORTS / "records").is_dir(), reason="no committed reports/records in this checkout")
def test_committed_reports_regenerate_from_committed_records(tmp_path: Path) -> None:
    api.write_report([REPORTS / "records"], tmp_path)
    rendered = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.suffix in (".md", ".jsonl"))
    committed = sorted(p.relative_to(REPORTS) for p in REPORTS.rglob("*") if p.suffix in (".md", ".jsonl"))
    assert rendered == committed
    for rel in rendered:  # markdown and records byte for byte; PNG bytes depend on the installed matplotlib/freetype
        assert (tmp_path / rel).read_bytes() == (REPORTS / rel).read_bytes(), f"reports/{rel} is stale: nox -s reports"
