"""Layer removal in the pipeline (issue 12): with ``morph.remove_dead_layers`` a MorphNet shrink drops each block
conv whose channels all died, the expand goes without them too, and the records say which and how many."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from bench import api
from bench.pipeline import plan_case
from bench.suite import load_suite
from morph import rebuild
from morph.layer_removal import block_convs
from tests.bench.conftest import FAST_MEASURE, small_suite

BUDGET = 20_000.0  # parameters; the base-4, depth-2 seed has 7,629, so the expand grows what is left

# FiGS gates on p = σ(l) at a logit rate of 2 per Adam step: every logit falls from 2.5 past 0 within the first
# few steps, so every channel dies (the all-or-nothing of a lockstep Adam drift, see suites/methods.toml)
SUITE = small_suite("removal", count=24, rest=f"""
[train]
epochs = 1
batch_size = 4
[morph]
resource = "params"
source = "logistic_sigmoid_expected"
relative_strength = true
strength = 10.0
strength_lr = 2.0
epochs = 2
budget = {BUDGET}
{FAST_MEASURE}[matrix]
"morph.remove_dead_layers" = [true, false]
""")


def _records(results: Path) -> dict[tuple[bool, str], dict]:
    out = {}
    for path in sorted(results.glob("*/*.json")):
        r = json.loads(path.read_text())
        if "stage" in r:
            out[(r["config"]["morph"].get("remove_dead_layers", False), r["stage"])] = r
    return out


def test_dead_block_convs_are_removed(tmp_path: Path) -> None:
    suite_file = tmp_path / "removal.toml"
    suite_file.write_text(SUITE)
    cases = {c.config.morph.remove_dead_layers: c for c in load_suite(suite_file).cases()}
    plans = {k: plan_case(c) for k, c in cases.items()}
    assert plans[True][1].key == plans[False][1].key  # one structure learning for both: the setting is the shrink's
    assert plans[True][2].key != plans[False][2].key

    results = tmp_path / "results"
    assert api.run_suite(suite_file, results=results, progress=False).exit_code == 0
    rec = _records(results)
    learn = rec[(True, "learn")]  # shared: written once, under the first case
    dead = {k for k, n in learn["widths"].items() if n == 0}
    assert dead, learn["widths"]  # the premise: structure learning killed whole convs

    from bench.pipeline.context import CaseContext

    ctx = CaseContext(cases[True], progress=False)
    blocks = block_convs(ctx.base_model)
    shrunk, expanded = rec[(True, "shrink")], rec[(True, "expand")]
    removed = shrunk["extra"]["removed_layers"]
    assert removed and shrunk["extra"]["layers_removed"] == len(removed)
    for convs in blocks.values():  # a dead conv goes unless it is its block's last one left
        gone = [k for k in convs if k in removed]
        assert gone == [k for k in convs if k in dead][: len(convs) - 1]
    assert not set(removed) & set(shrunk["widths"]) and not set(removed) & set(expanded["widths"])
    assert expanded["extra"]["removed_layers"] == removed
    # the records' models are the shorter ones: their parameter counts are the rebuilt models'
    for r in (shrunk, expanded):
        model = rebuild(ctx.base_model, r["widths"], ctx.example, remove=removed)
        assert r["params"] == sum(p.numel() for p in model.parameters())
        with torch.no_grad():
            assert model(ctx.example).shape[-2:] == ctx.example.shape[-2:]
    assert expanded["extra"]["cost"] == expanded["params"] <= BUDGET  # the budget is met by the shorter model
    loaded = api.load_model(cases[True].id, results)  # what `bench export` and users load: the shorter net
    assert sum(p.numel() for p in loaded.parameters()) == expanded["params"]
    from bench.remeasure import remeasure

    timed, left = remeasure(suite_file, results)  # the shorter nets are rebuilt and re-timed, none skipped
    assert (timed, left) == (6, 2)  # base, shrink, expand per case; the learn, with its 0 widths, has no model
    remeasured = _records(results)[(True, "expand")]
    assert remeasured["params"] == expanded["params"] and remeasured["latency"] != expanded["latency"]
    assert api.write_report([results], tmp_path / "report")  # renders shorter widths
    kept = rec[(False, "shrink")]
    assert "removed_layers" not in kept["extra"] and set(kept["widths"]) == set(learn["widths"])
