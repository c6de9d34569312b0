"""The pruning baselines as pipeline methods: each prunes the trained seed to the budget (≤ budget, within 2%),
fine-tunes it, and its record's model is the model that was trained (params, widths, weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench import api
from bench.methods import get_method
from bench.pipeline import plan_case
from bench.suite import load_suite
from tests.bench.conftest import TINY

BUDGET = 3000.0  # parameters; the tiny seed has 7,629

PRUNE = TINY.format(learn_epochs=1, extra="").replace(
    '"morph.method" = ["morphnet", "uniform"]\n"morph.symmetry" = [0, 2]\n'
    'exclude = [{ "morph.method" = "uniform", "morph.symmetry" = 2 }]',
    '"morph.method" = ["l1_norm", "random", "slimming", "group_norm", "uniform"]',
).replace("[morph]\n", f"[morph]\nresource = \"params\"\nbudget = {BUDGET}\n")


def _records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("*/*.json"))]


def test_stages_of_each_baseline() -> None:
    assert [s.name for s in get_method("l1_norm").stages] == ["prune"]
    assert [s.name for s in get_method("random").stages] == ["prune"]
    assert [s.name for s in get_method("slimming").stages] == ["sparse", "prune"]
    assert [s.name for s in get_method("group_norm").stages] == ["sparse", "prune"]


def test_pruned_cases_share_the_base_and_meet_the_budget(tmp_path: Path) -> None:
    suite_file = tmp_path / "prune.toml"
    suite_file.write_text(PRUNE)
    suite = load_suite(suite_file)
    plans = {c.config.morph.method: plan_case(c) for c in suite.cases()}
    assert len({p[0].key for p in plans.values()}) == 1  # one base for all five methods
    assert len({p[-1].key for p in plans.values()}) == 5  # the method is in every later stage's key

    results = tmp_path / "results"
    assert api.run_suite(suite_file, results=results, progress=False).exit_code == 0
    records = _records(results)
    pruned = [r for r in records if r["stage"] == "prune" and not r["extra"]["reused"]]
    assert sorted(r["config"]["morph"]["method"] for r in pruned) == ["group_norm", "l1_norm", "random", "slimming"]
    for r in pruned:
        assert BUDGET * (1 - 0.02) <= r["params"] <= BUDGET, r["label"]  # the record's model is the pruned one
        assert r["extra"]["cost"] == r["params"] and r["extra"]["budget"] == BUDGET
        assert r["status"] == "ok" and r["metrics"]["val"]["dice"] >= 0
    sparse = [r for r in records if r["stage"] == "sparse"]
    assert len(sparse) == 2 and all(len(r["history"]["epoch"]) == 1 for r in sparse)


def test_pruned_checkpoint_loads_into_the_model_at_its_widths(tmp_path: Path) -> None:
    """What later stages and `bench export` do with a product: rebuild at its widths and load its weights."""
    suite_file = tmp_path / "prune.toml"
    suite_file.write_text(PRUNE)
    results = tmp_path / "results"
    only = [c.id for c in load_suite(suite_file).cases() if c.config.morph.method == "l1_norm"]
    assert api.run_suite(suite_file, results=results, only=only, progress=False).exit_code == 0
    from bench.pipeline.context import CaseContext
    from bench.pipeline.runner import _load_product

    case = next(c for c in load_suite(suite_file).cases() if c.id in only)
    stage = plan_case(case)[-1]
    product = _load_product(results, stage)
    ctx = CaseContext(case, progress=False)
    model = ctx.model_at(product.widths)
    model.load_state_dict(product.state)  # shapes match: the pruned net is the rebuilt net
    assert sum(p.numel() for p in model.parameters()) <= BUDGET
    with torch.no_grad():
        assert model(ctx.example).shape[-2:] == ctx.example.shape[-2:]


def test_budget_by_measurement_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch_pruning")
    suite_file = tmp_path / "prune.toml"
    suite_file.write_text(PRUNE.replace(f'resource = "params"\nbudget = {BUDGET}\n', 'resource = "latency"\nbudget = 1e-3\n'
                                        'budget_by = "measurement"\n'))
    results = tmp_path / "results"
    only = [c.id for c in load_suite(suite_file).cases() if c.config.morph.method == "l1_norm"]
    summary = api.run_suite(suite_file, results=results, only=only, progress=False)
    assert summary.exit_code == 1
    failed = next(r for r in _records(results) if r["stage"] == "prune")
    assert "needs a cost model" in failed["error"]
