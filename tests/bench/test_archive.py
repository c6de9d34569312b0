"""JSON Lines archives: the records committed beside reports, and `bench report` regenerating from them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from bench.store import StageRecord, load_records, load_results, read_archive, write_archives
from tests.bench.test_report import write_fixture

runner = CliRunner()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_archive_round_trip_is_lossless_and_order_independent(tmp_path: Path) -> None:
    records = load_records(write_fixture(tmp_path / "results"))
    shuffled = list(records)
    random.Random(0).shuffle(shuffled)
    first = write_archives(records, tmp_path / "a")
    second = write_archives(shuffled, tmp_path / "b")
    assert [p.name for p in first] == ["mini.jsonl", "plain.jsonl"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    back = [r for path in first for r, _ in read_archive(path)]
    key = lambda r: (r.case_id, r.stage, r.iteration or 0)  # noqa: E731
    assert sorted(back, key=key) == sorted(records, key=key)  # dataclass equality: every field survives
    mini = [json.loads(line) for line in first[0].read_text().splitlines()]
    # one case's stages in pipeline order: base, learn, shrink, expand per iteration
    case = [(d["stage"], d["iteration"]) for d in mini if d["case_id"] == mini[0]["case_id"]]
    assert case[:4] == [("base", None), ("learn", 1), ("shrink", 1), ("expand", 1)]


def test_folder_and_its_archive_together_count_each_record_once(tmp_path: Path) -> None:
    results = write_fixture(tmp_path / "results")
    archive = write_archives(load_records(results), tmp_path / "records")[0]
    alone, both = load_results(results), load_results([results, archive, tmp_path / "records"])
    assert len(both) == len(alone)
    assert both["path"].str.contains(r"\.json$").all()  # the first origin seen is kept


def test_bad_archive_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    good = json.dumps(StageRecord(case_id="c", stage="base", suite="s").to_dict())
    path.write_text(good + "\n\n{not json\n")
    with pytest.raises(BenchError, match=r"s\.jsonl:3: column 2: invalid JSON"):
        list(read_archive(path))
    path.write_text(good.replace('"case_id"', '"case"') + "\n")
    with pytest.raises(BenchError, match=r"s\.jsonl:1: case: unknown field"):
        list(read_archive(path))
    with pytest.raises(BenchError, match=r"nope\.txt: expected an existing results folder or a \.jsonl records file"):
        load_results(tmp_path / "nope.txt")


def test_report_regenerates_identical_bytes_from_its_own_records(tmp_path: Path) -> None:
    """What `nox -s reproduce` commits: reports plus records; `bench report reports/records --out reports`
    must give back every file byte for byte (markdown, PNGs and the archives themselves)."""
    results = write_fixture(tmp_path / "results")
    out = tmp_path / "reports"
    first = runner.invoke(app, ["report", str(results), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "records/mini.jsonl" in first.output
    before = _files(out)
    assert {"index.md", "mini.md", "records/mini.jsonl", "records/plain.jsonl"} <= set(before)
    again = runner.invoke(app, ["report", str(out / "records"), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert _files(out) == before
    copy = tmp_path / "elsewhere"
    assert runner.invoke(app, ["report", str(out / "records" / "mini.jsonl"), str(out / "records" / "plain.jsonl"),
                               "--out", str(copy)]).exit_code == 0
    assert _files(copy) == before


def test_rerender_drops_figures_of_cases_that_are_gone(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    stale = out / "figures" / "mini" / "old-case-widths.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"png")
    assert runner.invoke(app, ["report", str(write_fixture(tmp_path / "results")), "--out", str(out)]).exit_code == 0
    assert not stale.exists() and (out / "figures" / "mini" / "pareto.png").is_file()


def test_archive_is_replaced_profile_by_profile(tmp_path: Path) -> None:
    def record(case: str, profile: str) -> StageRecord:
        return StageRecord(case_id=case, stage="base", suite="s", extra={"profile": profile})

    folder = tmp_path / "records"
    write_archives([record("q-old", "quick"), record("r1", "real"), record("r2", "real")], folder)
    [path] = write_archives([record("q-new", "quick")], folder)
    kept = sorted((r.case_id, r.extra["profile"]) for r, _ in read_archive(path))
    # the rerun profile's stale case is gone, the other profile's records stay
    assert kept == [("q-new", "quick"), ("r1", "real"), ("r2", "real")]
