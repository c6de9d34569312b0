"""bench.calibrate: the fit recovers known coefficients, profiles round-trip, probes describe their modules."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.calibrate import GRIDS, calibrate, load_profile, resolve_device, save_profile
from bench.calibrate.fit import fit_kind
from bench.calibrate.accuracy import CheckSettings
from bench.calibrate.grid import LAYER_KINDS, OP_KINDS, OPS_ONLY
from bench.calibrate.profile import Task
from bench.errors import BenchError
from morph.groups import build_graph
from morph.models.unet import UNet, unet_widths
from morph.resources import graph_cost, layer_features

NAMES = ("flop", "in_elem", "out_elem", "weight")


def test_fit_recovers_known_coefficients_from_noisy_timings() -> None:
    rng = np.random.default_rng(0)
    true = {"const": 2e-5, "flop": 3e-11, "in_elem": 0.0, "out_elem": 4e-10, "weight": 1e-9}

    def spread(lo: float, hi: float) -> np.ndarray:  # log-uniform, as layer sizes are
        return np.exp(rng.uniform(np.log(lo), np.log(hi), 200))

    feats = [{"flop": f, "in_elem": i, "out_elem": o, "weight": w} for f, i, o, w in zip(
        spread(1e4, 1e9), spread(1e3, 1e6), spread(1e3, 1e6), spread(1e2, 1e6))]
    exact = np.array([true["const"] + sum(true[n] * f[n] for n in NAMES) for f in feats])
    noisy = exact * rng.lognormal(0.0, 0.03, exact.size)  # 3 % multiplicative timing noise
    fit = fit_kind(feats, noisy, NAMES)
    for name in ("const", "flop", "out_elem", "weight"):
        assert fit.coefficients[name] == pytest.approx(true[name], rel=0.05), name
    assert fit.coefficients["in_elem"] < 0.05 * true["out_elem"]  # a true zero stays near zero, never negative
    assert min(fit.coefficients.values()) >= 0
    assert fit.n == 200 and fit.mape < 0.04 and fit.within_10 > 0.99


def test_fit_without_noise_is_exact_and_bad_input_is_refused() -> None:
    feats = [{"in_elem": x} for x in (1e3, 1e4, 1e5)]
    fit = fit_kind(feats, [1e-5 + 2e-9 * f["in_elem"] for f in feats], ("in_elem",))
    assert fit.coefficients == pytest.approx({"const": 1e-5, "in_elem": 2e-9}, rel=1e-9)
    assert fit.mape == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="> 0"):
        fit_kind(feats, [1.0, 0.0, 1.0], ("in_elem",))


def _synthetic_timer(true: dict[str, dict[str, float]]) -> Callable[[Task], float]:
    """Timings from known coefficients per kind (ops: const + in_elem only), no noise."""
    def timer(task: Task) -> float:
        return sum(true[k][n] * v for k, names in task.terms.items() for n, v in names.items())

    return timer


TRUE = {
    **{k.name: {"const": 3e-5, "flop": 2e-11, "in_elem": 1e-10, "out_elem": 5e-10, "weight": 2e-10}
       for k in LAYER_KINDS},
    **{k.name: {"const": 4e-6, "in_elem": 3e-10} for k in OP_KINDS},
}


def test_calibrate_recovers_synthetic_devices_and_the_profile_round_trips(tmp_path: Path) -> None:
    models = CheckSettings(models=("unet:base=4,depth=2",), variants=2, sizes=(16,), batches=(1, 2), seed=1)
    cal = calibrate(GRIDS["quick"], "synthetic", timer=_synthetic_timer(TRUE), models=models)
    assert set(cal.device.kinds) == {k.name for k in LAYER_KINDS} | {"concat"}
    assert set(cal.ops) == OPS_ONLY
    assert cal.fits["model unet:base=4,depth=2"].n == 4
    assert max(f.mape for f in cal.fits.values()) < 1e-6  # every kind reproduces its samples
    # where the grid separates the features (a depthwise conv's FLOPs are 18 × its outputs: not), the
    # coefficients themselves come back
    for kind in ("conv1x1", "conv3x3"):
        assert cal.device.kinds[kind].as_dict() == pytest.approx(TRUE[kind], rel=1e-3, abs=1e-15), kind
    assert cal.device.kinds["concat"].as_dict()["in_elem"] == pytest.approx(3e-10, rel=1e-6)

    path = save_profile(cal, tmp_path / "devices" / "synthetic.json")
    loaded = load_profile(path)
    assert loaded.device == cal.device
    assert loaded.to_dict()["kinds"] == cal.to_dict()["kinds"] and loaded.samples == cal.samples
    x = torch.zeros(1, 3, 32, 32)
    graph = build_graph(UNet(unet_widths(8, depth=2), depth=2), x)
    alive = {g.id: max(1, g.width // 2) for g in graph.groups}
    before = graph_cost(graph, alive, "latency", cal.device, batch=8)
    assert graph_cost(graph, alive, "latency", resolve_device(str(path)), batch=8) == before > 0


def test_each_batch_gets_its_own_fit_when_the_device_differs_by_batch(tmp_path: Path) -> None:
    """Timings from one true set at batch 1 and 1.5× it at batch 8: one set cannot reproduce both, a set per
    batch reproduces every probe and whole-model sample, and the per-batch sets survive the profile file."""
    scaled = {k: {n: 1.5 * v for n, v in c.items()} for k, c in TRUE.items()}
    one, eight = _synthetic_timer(TRUE), _synthetic_timer(scaled)
    models = CheckSettings(models=("unet:base=4,depth=2",), variants=3, sizes=(16,), batches=(1, 8), seed=1)
    cal = calibrate(GRIDS["quick"], "by-batch", timer=lambda t: (one if t.batch == 1 else eight)(t), models=models)
    assert sorted(cal.device.batches) == [1, 8]
    assert max(f.mape for f in cal.fits.values()) < 1e-6
    for sample in cal.samples:  # the device's own prediction, as the latency resource makes it
        kinds = cal.device.kinds_at(sample["batch"])
        pred = sum(getattr(kinds[k], n) * v for k, names in sample["terms"].items() if k in kinds
                   for n, v in names.items())
        if all(k in kinds for k in sample["terms"]):
            assert pred == pytest.approx(sample["time_s"], rel=1e-6)
    pooled = [sum(getattr(cal.device.kinds[k], n) * v for k, names in s["terms"].items() if k in cal.device.kinds
                  for n, v in names.items()) / s["time_s"] for s in cal.samples if s["source"] == "model"]
    assert max(abs(r - 1) for r in pooled) > 0.01  # the all-batch set alone cannot fit both (3.7 % off here)
    loaded = load_profile(save_profile(cal, tmp_path / "by-batch.json"))
    assert loaded.device == cal.device and loaded.device.batches[8] == cal.device.batches[8]


def test_bad_profile_files_are_one_line_errors(tmp_path: Path) -> None:
    cal = calibrate(GRIDS["quick"], "synthetic", timer=_synthetic_timer(TRUE))
    data = cal.to_dict()
    data["kinds"]["conv3x3"]["flop"] = -1.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(BenchError, match=r"bad.json: key 'kinds.conv3x3.flop'"):
        load_profile(bad)
    with pytest.raises(BenchError, match="no profile file"):
        resolve_device(str(tmp_path / "missing.json"))
    assert resolve_device("cpu2") == "cpu2"


@pytest.mark.parametrize("kind", LAYER_KINDS, ids=lambda k: k.name)
def test_probe_features_match_the_traced_module(kind: Any) -> None:
    """The Layer a probe is described by is the one build_graph finds in its module."""
    probe = kind.probes(GRIDS["quick"], random.Random(1))[0]
    graph = build_graph(probe.build(), torch.zeros(probe.batch, *probe.input_shape))
    (layer,) = graph.layers
    assert layer_features(layer, probe.batch) == pytest.approx(probe.features)


@pytest.mark.parametrize(("args", "message"), [
    (["calibrate", "--device", "tpu"], "--device: expected cpu or cuda, got 'tpu'"),
    (["calibrate", "--dtype", "int8"], "--dtype: expected one of float32, float16, bfloat16, got 'int8'"),
    (["latency-check", "--profile", "nowhere.json"], "nowhere.json: cannot read the device profile"),
])
def test_cli_bad_usage_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "x").exists()


def test_model_rows_are_timed_in_rounds_mixed_with_the_probes() -> None:
    """models.rounds = 3: each model row is timed three times, its sample is the median (one slow timing of every
    row, 100×, moves none), and the model timings are spread among the probes' rather than after them."""
    models = CheckSettings(models=("unet:base=4,depth=2",), variants=2, sizes=(16,), batches=(1, 2), seed=1, rounds=3)
    clean = _synthetic_timer(TRUE)
    calls: list[str] = []
    first_seen: set[str] = set()

    def timer(task: Task) -> float:
        calls.append(task.source)
        key = repr((task.name, task.batch, task.input_shape, task.terms))
        slow = task.source == "model" and key not in first_seen  # the first timing of each row is 100× slow
        first_seen.add(key)
        return clean(task) * (100.0 if slow else 1.0)

    cal = calibrate(GRIDS["quick"], "rounds", timer=timer, models=models)
    model_calls = [i for i, source in enumerate(calls) if source == "model"]
    assert len(model_calls) == 3 * 4 and model_calls[0] < len(calls) - len(model_calls)
    rows = [s for s in cal.samples if s["source"] == "model"]
    assert len(rows) == 4
    for row in rows:
        expected = sum(TRUE[k][n] * v for k, names in row["terms"].items() for n, v in names.items())
        assert row["time_s"] == pytest.approx(expected)
