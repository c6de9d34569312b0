"""The rendered reports committed under reports/ are what `bench report reports/records` gives today.

If this fails after a change to the report code, re-render with `nox -s reports` (or
`bench report reports/records --out reports`) and commit the new reports with the change.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench import api

REPORTS = Path(__file__).resolve().parents[2] / "reports"


@pytest.mark.skipif(not (REPORTS / "records").is_dir(), reason="no committed reports/records in this checkout")
def test_committed_reports_regenerate_from_committed_records(tmp_path: Path) -> None:
    api.write_report([REPORTS / "records"], tmp_path)
    rendered = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.suffix in (".md", ".jsonl"))
    committed = sorted(p.relative_to(REPORTS) for p in REPORTS.rglob("*") if p.suffix in (".md", ".jsonl")
                       and p.relative_to(REPORTS).parts[0] != "devices")  # bench calibrate's, not bench report's
    assert rendered == committed
    for rel in rendered:  # markdown and records byte for byte; PNG bytes depend on the installed matplotlib/freetype
        assert (tmp_path / rel).read_bytes() == (REPORTS / rel).read_bytes(), f"reports/{rel} is stale: nox -s reports"


@pytest.mark.skipif(not (REPORTS / "records").is_dir(), reason="no committed reports/records in this checkout")
def test_committed_records_belong_to_the_current_suites() -> None:
    """Every committed record's case id is a case of its suite file as it is now, under the profile the record
    was made with, so the reports describe what `bench run` would run; a suite edit or a new setting that changes
    case ids fails here (new settings must hash as absent at their default: bench.suite.case.ADDED)."""
    from bench.store import load_records
    from bench.suite import load_suite

    suites = REPORTS.parent / "suites"
    shared = (REPORTS.parents[1] / "shared").is_dir()
    for archive in sorted((REPORTS / "records").glob("*.jsonl")):
        path = suites / f"{archive.stem}.toml"
        assert path.is_file(), f"{archive.name}: no suite file {path.name}"
        by_profile: dict[str, set[str]] = {}
        for r in load_records(archive):
            by_profile.setdefault(str((r.extra or {}).get("profile") or "quick"), set()).add(r.case_id)
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        for profile, recorded in sorted(by_profile.items()):
            data = repr(config.get("data", {})) + repr(config.get("profiles", {}).get(profile, {}).get("data", {}))
            if "shared/data" in data and not shared:
                continue  # this profile's data is in ../shared/data, absent here
            ids = {c.id for c in load_suite(path, profile, environ={}).cases()}
            stale = recorded - ids
            assert not stale, f"{archive.name}: {profile} records of cases no longer in {path.name}: {sorted(stale)}"
