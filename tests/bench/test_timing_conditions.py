"""A latency budget met by measurement is searched under the conditions the reported latency is taken under
(threads, warm-up, runs, cudnn.benchmark, channels_last, dtype): both come from one TimingConditions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.measure import TimingConditions
from bench.methods import StageSettings, get_method
from bench.pipeline import stages
from bench.pipeline.context import CaseContext
from bench.suite import load_suite


def test_measured_budget_and_reported_latency_share_conditions(make_tiny: Callable[..., Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_tiny()
    text = path.read_text().replace("min_time_s = 0.0", 'min_time_s = 0.0\nchannels_last = true\n'
                                    'dtype = "bfloat16"\ncudnn_benchmark = false\nthreads = 1')
    path.write_text(text[: text.index("[matrix]")] + '[matrix]\n"morph.resource" = ["latency"]\n'
                    '"morph.budget_by" = ["measurement"]\n')
    (case,) = load_suite(path).cases()
    ctx = CaseContext(case, progress=False)
    seen: list[TimingConditions] = []
    real = TimingConditions.measure

    def spy(self: TimingConditions, *args: Any, **kwargs: Any) -> Any:
        seen.append(self)
        return real(self, *args, **kwargs)  # the real measurement: only the conditions are recorded

    monkeypatch.setattr(TimingConditions, "measure", spy)
    cost = stages.cost_fn(ctx, StageSettings(case.config.morph, get_method("morphnet").spec("expand")))
    assert cost(ctx.seed_widths) > 0
    reported = ctx.measure(ctx.model_at(ctx.seed_widths))["latency"]["cpu_b1"]
    budget_conditions, report_conditions = seen
    assert budget_conditions == report_conditions
    assert (budget_conditions.channels_last, budget_conditions.dtype, budget_conditions.cudnn_benchmark) == (
        True, "bfloat16", False)
    assert reported["channels_last"] is True and reported["dtype"] == "bfloat16"


def test_budget_share_times_each_candidate_back_to_back_with_the_seed(make_tiny: Callable[..., Path],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """morph.budget_share = 0.5 with budget_by = "measurement": the budget is 0.5 and a candidate's cost is its
    time over the seed's, timed back to back with it. A fake clock ('latency' = parameters) whose machine slows
    down by half again after every pair of timings leaves every ratio exact, where absolute times would drift
    50% a pair."""
    path = make_tiny()
    text = path.read_text()
    path.write_text(text[: text.index("[matrix]")] + '[matrix]\n"morph.method" = ["uniform"]\n'
                    '"morph.resource" = ["latency"]\n"morph.budget_by" = ["measurement"]\n'
                    '"morph.budget_share" = [0.5]\n')
    (case,) = load_suite(path).cases()
    ctx = CaseContext(case, progress=False)
    calls = []

    def clock(self: TimingConditions, model: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        slowdown = 1.0 + 0.5 * ((len(calls) - 1) // 2)
        return type("M", (), {"median": slowdown * sum(p.numel() for p in model.parameters())})()

    monkeypatch.setattr(TimingConditions, "measure", clock)
    m = StageSettings(case.config.morph, get_method("uniform").spec("uniform"))
    cost = stages.cost_fn(ctx, m)
    params = lambda widths: sum(p.numel() for p in ctx.model_at(widths).parameters())  # noqa: E731
    assert cost(ctx.seed_widths) == 1.0 and stages.budget_of(ctx, m, cost) == 0.5
    half = {k: max(1, w // 2) for k, w in ctx.seed_widths.items()}
    for _ in range(3):
        assert cost(half) == pytest.approx(params(half) / params(ctx.seed_widths))
    found = stages.multiplier_target(ctx, m, ctx.seed_widths)
    assert found["budget"] == 0.5 and found["budget_by"] == "measurement"
    assert found["cost"] == pytest.approx(params(found["widths"]) / params(ctx.seed_widths)) and found["cost"] <= 0.5
