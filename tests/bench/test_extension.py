"""Extension is registration: a toy method, source, resource and layer type, each one class (or object) plus one
registration, run a tiny case end to end through the harness; and no code branches on a registered name."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torch_pruning as tp
from torch import nn

from bench.methods import METHODS, Method, StageSpec, register_method
from bench.pipeline import RunOptions, plan_case, run_case
from bench.report._groups import layer_order
from bench.store import load_results, stage_label
from bench.suite import load_suite
from morph import LAYERS, RESOURCES, SOURCES, LayerRule, LayerSpec, Resource, register_layer, register_resource
from morph.layers import fresh
from morph.models import MODELS
from morph.resources import flop_terms
from morph.sources import ChannelRMSStrength, GroupStrength, Member, create_source, register_source

REPO = Path(__file__).resolve().parents[2]


def _run(suite_path: Path, results: Path) -> Any:
    suite = load_suite(suite_path)
    statuses = [run_case(case, results, RunOptions(progress=False)) for case in suite.cases()]
    return suite, statuses, load_results(results)


def _matrix(path: Path, matrix: str) -> Path:
    """The tiny suite with its matrix replaced (MorphNet only)."""
    text = path.read_text()
    path.write_text(text[: text.index("[matrix]")] + "[matrix]\n" + matrix + "\n")
    return path


@pytest.fixture
def registered() -> Iterator[Callable[[Any, str, Any], None]]:
    """Register into a registry for one test only."""
    added: list[tuple[Any, str]] = []

    def add(registry: Any, name: str, item: Any) -> None:
        registry.register(name)(item)
        added.append((registry, name))

    yield add
    for registry, name in added:
        registry.unregister(name)


# --- a toy method: train at half the seed widths -------------------------------------------------------------


def _halve(ctx: Any, m: Any, parent: Any) -> Any:
    from bench.pipeline.stages import train_from_scratch

    return train_from_scratch(ctx, {k: max(m.min_width, w // 2) for k, w in ctx.seed_widths.items()})


HALF = Method("toy_half", "Half width", (StageSpec("halve", "Halved", _halve, reads=("morph.min_width",),
                                                    repeats=False),))


def test_a_toy_method_runs_end_to_end(make_tiny: Callable[..., Path], tmp_path: Path, registered: Any) -> None:
    registered(METHODS, HALF.name, HALF)
    path = make_tiny(extra='include = [{ "morph.method" = "toy_half", "morph.symmetry" = 0 }]')
    suite, statuses, df = _run(path, tmp_path / "results")
    case = next(c for c in suite.cases() if c.config.morph.method == "toy_half")
    assert [s.label for s in plan_case(case)] == ["base", "halve"]
    assert set(statuses) == {"ok"}
    halved = df[(df["case_id"] == case.id) & (df["stage"] == "halve")].iloc[0]
    base = df[(df["case_id"] == case.id) & (df["stage"] == "base")].iloc[0]
    assert halved["widths"] == {k: max(1, w // 2) for k, w in base["widths"].items()}
    assert halved["params"] < base["params"]


def test_a_stage_cannot_read_an_undeclared_setting(make_tiny: Callable[..., Path], tmp_path: Path,
                                                    registered: Any) -> None:
    def sneaky(ctx: Any, m: Any, parent: Any) -> Any:
        return m.min_fraction  # not declared: its value would not be in the key

    registered(METHODS, "toy_sneaky", Method("toy_sneaky", "Sneaky", (StageSpec("s", "S", sneaky, repeats=False),)))
    path = make_tiny(extra='include = [{ "morph.method" = "toy_sneaky", "morph.symmetry" = 0 }]')
    suite, statuses, df = _run(path, tmp_path / "results")
    row = df[df["stage"] == "s"].iloc[0]
    assert row["status"] == "failed" and "morph.min_fraction" in row["error"]


# --- a toy source: per-channel mean |w| of the producers' weights, its prox an L1 shrink of each weight -------


class MeanAbs(ChannelRMSStrength):
    def of_member(self, member: Member) -> torch.Tensor:
        w = member.param
        return w.transpose(0, member.dim).reshape(w.shape[member.dim], -1).abs().mean(1)

    def prox(self, member: Member, tau: float, mask: torch.Tensor | None) -> None:
        w = member.param
        d = w.numel() // w.shape[member.dim]
        new = torch.sign(w) * (w.abs() - tau / d).clamp_min(0)
        if mask is not None:
            shape = [1] * w.dim()
            shape[member.dim] = -1
            new = torch.where(mask.reshape(shape), new, w)
        w.copy_(new)


def mean_abs(graph: Any, group: Any) -> GroupStrength:
    return MeanAbs("toy_mean_abs", create_source("group_lasso")(graph, group).members)


def test_a_toy_source_runs_end_to_end(make_tiny: Callable[..., Path], tmp_path: Path, registered: Any) -> None:
    registered(SOURCES, "toy_mean_abs", mean_abs)
    path = make_tiny(extra='include = [{ "morph.method" = "morphnet", "morph.symmetry" = 0, '
                           '"morph.source" = "toy_mean_abs", "morph.strength" = 1.0, "morph.threshold" = 1e-3 }]')
    suite, statuses, df = _run(path, tmp_path / "results")
    assert set(statuses) == {"ok"}
    learn = df[(df["stage"] == "learn") & (df["config.morph.source"] == "toy_mean_abs")].iloc[0]
    assert set(learn["extra"]["sources"].values()) == {"toy_mean_abs"}
    assert learn["histogram"]["of"] == "toy_mean_abs"
    assert learn["history"]["alive_fraction"][-1] < 1  # its prox step zeroed channels


# --- a toy resource: FLOPs counted twice (so its costs must be exactly twice the flops resource's) ------------

TWICE = Resource("toy_twice_flops", "2 × FLOPs", lambda layer, batch, device: (flop_terms(layer, batch).scaled(2.0),))


def test_a_toy_resource_runs_end_to_end(make_tiny: Callable[..., Path], tmp_path: Path, registered: Any) -> None:
    registered(RESOURCES, TWICE.name, TWICE)
    path = _matrix(make_tiny(), '"morph.resource" = ["flops", "toy_twice_flops"]')
    suite, statuses, df = _run(path, tmp_path / "results")
    assert set(statuses) == {"ok"}
    learn = df[df["stage"] == "learn"].set_index("config.morph.resource")
    assert learn.loc["toy_twice_flops", "extra"]["seed_cost"] == 2 * learn.loc["flops", "extra"]["seed_cost"]
    expand = df[df["stage"] == "expand"].set_index("config.morph.resource")
    assert expand.loc["toy_twice_flops", "extra"]["budget"] == 2 * expand.loc["flops", "extra"]["budget"]


# --- a toy layer type: a 1×1 conv written as its own module ----------------------------------------------------


class Pointwise(nn.Module):
    """A 1×1 convolution that is not an ``nn.Conv2d`` (so no registered rule matches it)."""

    transposed, groups = False, 1

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias)


class PointwiseRule(LayerRule):
    kind, types, out_dim = "toy_pointwise", (Pointwise,), 0
    pruner = tp.pruner.function.ConvPruner()  # Torch-Pruning traces its channels like a conv's

    def spec(self, m: nn.Module) -> LayerSpec:
        return LayerSpec(self.kind, (1, 1), 1, m.in_channels, m.out_channels)  # type: ignore[arg-type]

    def resize(self, m: nn.Module, n_in: int, n_out: int, groups: int) -> None:
        m.in_channels, m.out_channels = n_in, n_out
        m.weight, m.bias = fresh(m.weight, n_out, n_in, 1, 1), fresh(m.bias, n_out)  # type: ignore[arg-type]
        m.reset_parameters()  # type: ignore[operator]


def pointwise_net(in_channels: int = 3, classes: int = 1, width: int = 8) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         Pointwise(width, width), nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, classes, 1))


def test_a_toy_layer_type_runs_end_to_end(make_tiny: Callable[..., Path], tmp_path: Path, registered: Any) -> None:
    registered(LAYERS, PointwiseRule.kind, PointwiseRule())
    registered(MODELS, "toy_pointwise_net", pointwise_net)
    path = _matrix(make_tiny(), '"morph.resource" = ["params"]\n"morph.budget" = [200.0]')
    path.write_text(path.read_text().replace('name = "unet"\nbase = 4\ndepth = 2', 'name = "toy_pointwise_net"'))
    suite, statuses, df = _run(path, tmp_path / "results")
    assert set(statuses) == {"ok"}
    expand = df[df["stage"] == "expand"].iloc[0]
    assert expand["widths"]["3"] < 8 and expand["params"] <= 200  # the Pointwise group shrank to the budget


def test_register_layer_and_build_graph_customized() -> None:
    from morph.errors import UnsupportedLayerError
    from morph.groups import build_graph
    from morph.rebuild import rebuild

    net, x = pointwise_net(), torch.zeros(1, 3, 8, 8)
    with pytest.raises(UnsupportedLayerError, match="no channel rule"):  # refused, not guessed
        build_graph(net, x)
    graph = build_graph(net, x, customized=[PointwiseRule()])
    assert graph.layer("3").kind == "toy_pointwise"
    small = rebuild(net, {"3": 5}, graph=graph)
    assert small[3].weight.shape == (5, 8, 1, 1) and small(x).shape == (1, 1, 8, 8)
    register_layer(PointwiseRule())
    try:
        assert build_graph(net, x).layer("3").kind == "toy_pointwise"
    finally:
        LAYERS.unregister("toy_pointwise")


def test_no_behaviour_branches_on_registered_names() -> None:
    """The issue's grep; the blog comparison's row selections (``_col(df, key) == value``: which records a claim of
    the blog is about) are data filters, not behaviour."""
    pattern = r'== "gamma"\|name == "flops"\|method == '
    found = subprocess.run(["grep", "-rn", pattern, "morph", "bench"], cwd=REPO, capture_output=True, text=True)
    branches = [line for line in found.stdout.splitlines() if "_col(" not in line]
    assert branches == [], branches


def test_register_resource_adds_a_name() -> None:
    r = register_resource(Resource("toy_once", "x", lambda layer, batch, device: (flop_terms(layer, batch),)))
    try:
        assert RESOURCES.get("toy_once") is r
    finally:
        RESOURCES.unregister("toy_once")


@pytest.mark.parametrize("method", METHODS.names())
def test_every_registered_method_runs_end_to_end(method: str, make_tiny: Callable[..., Path], tmp_path: Path) -> None:
    path = _matrix(make_tiny(), f'"morph.method" = ["{method}"]\n"morph.resource" = ["params"]')
    suite, statuses, df = _run(path, tmp_path / "results")
    assert statuses == ["ok"]
    (case,) = suite.cases()
    stages = [s.label for s in plan_case(case)]
    assert sorted(stage_label(s, i) for s, i in zip(df["stage"], df["iteration"])) == sorted(stages)
    final = df[df["stage"] == METHODS.get(method).final_stage].iloc[-1]
    base = df[df["stage"] == "base"].iloc[0]
    assert final["params"] <= base["params"]  # every method meets the default budget: the seed's own size
    # records carry the model's forward order, which for the U-Net is the order reports guess for old records
    order = final["extra"]["layer_order"]
    assert sorted(order) == sorted(final["widths"]) and order == layer_order(list(final["widths"]))


def test_every_committed_record_keeps_its_stage_key() -> None:
    """Stage keys now come from the methods' StageSpecs: every committed record's key is still the planned one."""
    from bench.store import load_records
    from bench.suite import Case, CaseConfig

    records = load_records(REPO / "reports" / "records")
    assert records
    for rec in records:
        case = Case.create(rec.suite, CaseConfig.model_validate(rec.config), rec.seed)
        assert case.id == rec.case_id
        planned = {(s.name, s.iteration): s.key for s in plan_case(case)}
        assert rec.extra["stage_key"] == planned[(rec.stage, rec.iteration)], (rec.case_id, rec.stage)


def test_inherited_settings_are_keyed_by_an_ancestor() -> None:
    """A stage may read a setting its own key leaves out only if an earlier stage's key hashes it."""
    for name in METHODS.names():
        method = METHODS.get(name)
        keyed: set[str] = set()
        for spec in method.stages:
            assert set(spec.inherits) <= keyed, (name, spec.name, set(spec.inherits) - keyed)
            keyed |= {r.removeprefix("morph.") for r in spec.reads}
