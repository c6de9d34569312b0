"""bench.calibrate.accuracy: metrics worked by hand, predictions that agree with the rebuilt variants, the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from bench.calibrate.accuracy import (
    CheckSettings, divisor_table, metrics, points_frame, run_check, run_divisors, summary, write_report,
)
from morph.groups import build_graph
from morph.models.unet import UNet, unet_widths
from morph.resources import CalibratedDevice, KindCoefficients, graph_cost

DEVICE = CalibratedDevice("toy", {k: KindCoefficients(const=1e-5, flop=1e-10, out_elem=1e-9)
                                  for k in ("conv3x3", "conv1x1", "tconv")})


def test_metrics_by_hand() -> None:
    # relative errors 0.05, 0.25, 0.0333, 0: three within ±10 %, MAPE 0.3333/4; ranks 1 2 3 4 vs 1 3 2 4
    m = metrics([1.0, 2.0, 3.0, 4.0], [1.05, 2.5, 2.9, 4.0])
    assert m == pytest.approx({"n": 4, "within_10": 0.75, "mape": (0.05 + 0.25 + 0.1 / 3) / 4, "spearman": 1.0})
    assert metrics([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])["spearman"] == pytest.approx(1 - 6 * 2 / 60)


def test_predictions_are_the_rebuilt_variants_own_costs(tmp_path: Path) -> None:
    """A 'measurement' that is the device's cost of the rebuilt variant's own graph must be predicted exactly
    from the seed graph and the variant's widths (what the penalty and the width search use)."""
    def own_cost(model: nn.Module, shape: tuple[int, ...], batch: int) -> float:
        return float(graph_cost(build_graph(model, torch.zeros(1, *shape)), None, "latency", DEVICE, batch=batch))

    settings = CheckSettings(models=("unet:base=4,depth=2",), variants=3, sizes=(16, 32), batches=(1, 2))
    points = run_check(settings, {"toy": DEVICE, "V100": "V100"}, own_cost)
    assert len(points) == 3 * 2 * 2
    assert len({p.variant for p in points}) == 3 and len({p.measured_s for p in points}) == 12
    df = points_frame(points, rescale=["V100"])
    overall = summary(df).set_index("predictor")
    assert overall.loc["toy", "mape"] == pytest.approx(0.0, abs=1e-9)
    assert overall.loc["toy", "within_10"] == 1.0 and overall.loc["toy", "spearman"] == pytest.approx(1.0)
    assert list(overall.index)[:2] == ["toy", "V100"] and "(rescaled)" in list(overall.index)[2]

    written = write_report(points, settings, {"device": "test"}, tmp_path / "reports", rescale=["V100"])
    assert [p.name for p in written] == ["latency.md", "latency-scatter.png", "latency-points.csv"]
    text = written[0].read_text()
    assert "| toy " in text and "figures/latency-scatter.png" in text and "unet:base=4,depth=2" in text


def test_divisor_comparison_at_equal_params(tmp_path: Path) -> None:
    """Uniform widths at half the seed's parameters, once unrounded and once in multiples of 4: every width of
    the second is a multiple of 4, both fit the budget, and the report gets the table."""
    measured = {}

    def by_params(model: nn.Module, shape: tuple[int, ...], batch: int) -> float:
        measured[id(model)] = model
        return 1e-6 * sum(p.numel() for p in model.parameters()) * batch

    settings = CheckSettings(models=("unet:base=8,depth=2",), variants=1, sizes=(16,), batches=(1,))
    points = run_divisors(settings, (1, 4, 64), 0.5, {"toy": DEVICE}, by_params)
    assert [p.divisor for p in points] == [1, 4]  # 64 channels per group alone exceed the budget: left out
    seed = sum(p.numel() for p in UNet(unet_widths(8, depth=2), depth=2).parameters())
    for p, model in zip(points, measured.values()):
        assert p.params == sum(q.numel() for q in model.parameters()) <= 0.5 * seed
        assert p.point.measured_s == pytest.approx(1e-6 * p.params)
    assert all(w % 4 == 0 for w in list(measured.values())[1].widths.values())
    table = divisor_table(points)
    assert table["speed-up vs 1"].tolist() == pytest.approx([1.0, points[0].params / points[1].params])
    run = run_check(settings, {"toy": DEVICE}, by_params)
    written = write_report(run, settings, {}, tmp_path, divisors=points, share=0.5)
    assert "## Hardware-friendly widths" in written[0].read_text()


def test_rounds_time_every_variant_in_passes_and_keep_the_median() -> None:
    """rounds = 3: all 4 jobs are timed once before any is timed again (passes), and each point's time is the
    median of its three. The 'time' is the call count, 100× in the second pass (a slow minute): job i of the pass
    order gets i + 1, 100·(i + 5) and i + 9, so its median is i + 9 (the mean would follow the slow pass)."""
    settings = CheckSettings(models=("unet:base=4,depth=2",), variants=1, sizes=(16,), batches=(1, 2, 3, 4), rounds=3)
    calls: list[int] = []

    def clock(model: nn.Module, shape: tuple[int, ...], batch: int) -> float:
        calls.append(batch)
        n = len(calls)
        return float(n) * (100.0 if 5 <= n <= 8 else 1.0)

    points = run_check(settings, {"toy": DEVICE}, clock)
    assert len(calls) == 12 and calls[:4] == calls[4:8] == calls[8:]
    order = {b: i for i, b in enumerate(calls[:4])}
    assert {p.batch: p.measured_s for p in points} == {b: float(order[b] + 9) for b in order}
