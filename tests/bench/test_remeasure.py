"""`bench remeasure`: a run's latencies are timed again from the widths in its records; nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bench import api
from bench.cli import app


def _records(results: Path) -> dict[str, dict]:
    return {str(p.relative_to(results)): json.loads(p.read_text()) for p in sorted(results.glob("*/*.json"))}


def test_remeasure_replaces_latency_and_nothing_else(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert api.run_suite(tiny_suite, results=results, progress=False).exit_code == 0
    before = _records(results)
    learn = sorted(p for p in before if "learn" in p)[:1]
    for path, record in before.items():  # as if timed on a loaded machine: 1 s per call
        if record["latency"]:
            record["latency"]["cpu_b1"]["median_s"] = 1.0
            record["latency"]["cpu_b1"]["threads"] = 1  # timed with one thread: re-timed with one too
        if path in learn:  # a learn record lists alive widths: fewer than the model it timed had
            record["widths"] = {k: max(1, v - 1) for k, v in record["widths"].items()}
        (results / path).write_text(json.dumps(record))
    before = _records(results)
    done = CliRunner().invoke(app, ["remeasure", str(tiny_suite), "--results", str(results)])
    assert done.exit_code == 0, done.output
    after = _records(results)
    assert learn and all(after[p]["latency"]["cpu_b1"]["median_s"] == 1.0 for p in learn)  # alive widths: left
    timed = [p for p in after if p not in learn and after[p]["latency"]]
    assert timed and all(after[p]["latency"]["cpu_b1"]["median_s"] < 0.5 for p in timed)
    assert all("latency_remeasured" in after[p]["extra"] for p in timed)
    assert all(after[p]["latency"]["cpu_b1"]["threads"] == 1 for p in timed)
    for p in timed:  # training results and costs are untouched
        for key in ("metrics", "params", "flops", "widths", "history", "per_image", "env", "config"):
            assert after[p].get(key) == before[p].get(key), (p, key)
    assert f"re-timed {len(timed)} record(s); {len(learn)} left as they were" in done.output


def test_remeasure_bad_folder_is_one_line(tiny_suite: Path, tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["remeasure", str(tiny_suite), "--results", str(tmp_path / "none")])
    assert done.exit_code == 2 and "expected an existing results folder" in done.output


def test_remeasure_leaves_a_learn_record_with_an_emptied_layer(tiny_suite: Path, tmp_path: Path) -> None:
    """A structure-learning record may list a layer with no channel alive (width 0): no model can be built at those
    widths, so that record keeps its latency and the rest of the suite is still re-timed (was: exit 2 on the
    first such record, which stopped `nox -s reproduce` at the regularizers suite)."""
    results = tmp_path / "results"
    assert api.run_suite(tiny_suite, results=results, progress=False).exit_code == 0
    records = _records(results)
    learn = sorted(p for p in records if "learn" in p)[0]
    emptied = records[learn]
    emptied["widths"][next(iter(emptied["widths"]))] = 0
    (results / learn).write_text(json.dumps(emptied))
    done = CliRunner().invoke(app, ["remeasure", str(tiny_suite), "--results", str(results)])
    assert done.exit_code == 0, done.output
    after = _records(results)
    assert after[learn] == emptied
    assert any("latency_remeasured" in r["extra"] for p, r in after.items() if p != learn)


def test_rounds_time_every_model_once_per_pass_and_pool_the_samples(tiny_suite: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    """--rounds 2: all models are timed once before any is timed again, and each record's latency pools its two
    passes' samples. A fake clock returns the call count as the only sample, so model i of N gets (i, N + i)."""
    from bench.measure import LatencyMeasurement
    from bench.pipeline.context import CaseContext

    results = tmp_path / "results"
    assert api.run_suite(tiny_suite, results=results, progress=False).exit_code == 0
    calls: list[int] = []

    def clock(self: CaseContext, model) -> dict:
        calls.append(sum(p.numel() for p in model.parameters()))
        return {"cpu_b1": LatencyMeasurement((float(len(calls)),), "cpu", 1, 1, (3, 32, 32)).to_dict()}

    monkeypatch.setattr(CaseContext, "measure_latency", clock)
    done = CliRunner().invoke(app, ["remeasure", str(tiny_suite), "--results", str(results), "--rounds", "2"])
    assert done.exit_code == 0, done.output
    n = len(calls) // 2
    assert n > 0 and len(calls) == 2 * n and calls[:n] == calls[n:]
    pooled = sorted(tuple(r["latency"]["cpu_b1"]["samples_s"]) for r in _records(results).values()
                    if r["extra"].get("latency_remeasured", {}).get("rounds") == 2)
    assert pooled == [(float(i), float(n + i)) for i in range(1, n + 1)]
