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
