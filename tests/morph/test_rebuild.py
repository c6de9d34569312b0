"""rebuild: native for morph.models, module resizing for smp; parameter counts equal the cost model's."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from morph.errors import MorphError
from morph.groups import build_graph
from morph.models import CifarCNN, UNet, blog_cifar_cnn, blog_unet, smp_model
from morph.rebuild import rebuild
from morph.resources import graph_cost


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def unet16() -> tuple[UNet, object]:
    torch.manual_seed(0)
    m = blog_unet(16)
    return m, build_graph(m, torch.zeros(1, 3, 32, 32))


@settings(max_examples=6, deadline=None)
@given(st.data())
def test_blog_unet_at_random_group_widths(unet16: tuple, data: st.DataObject) -> None:  # type: ignore[type-arg]
    model, graph = unet16
    widths = {g.id: data.draw(st.integers(1, 2 * g.width), label=g.name) for g in graph.groups}
    new = rebuild(model, widths, graph=graph)
    assert isinstance(new, UNet) and new.widths == {graph.groups[i].name: w for i, w in widths.items()}
    assert n_params(new) == graph_cost(graph, widths, "params_exact")
    assert new(torch.zeros(1, 3, 32, 32)).shape == (1, 1, 32, 32)


def test_native_keys_by_width_key_and_layer_name(unet16: tuple) -> None:  # type: ignore[type-arg]
    model, _ = unet16
    new = rebuild(model, {"enc0.0": 5, "decoder.0.1.0": 7})
    assert new.widths["enc0.0"] == 5 and new.widths["dec3.1"] == 7
    assert new.config == model.config and model.widths["enc0.0"] == 16  # the original is untouched
    with pytest.raises(MorphError, match="no width key or layer 'nope'"):
        rebuild(model, {"nope": 3})
    with pytest.raises(MorphError, match="positive integers"):
        rebuild(model, {"enc0.0": 0})


def test_cifar_cnn_native_and_generic_agree() -> None:
    model, x = blog_cifar_cnn(), torch.zeros(2, 3, 32, 32)
    graph = build_graph(model, x)
    widths = {g.id: max(1, g.width // 3) for g in graph.groups}
    native = rebuild(model, widths, graph=graph)
    assert isinstance(native, CifarCNN) and native.widths == {"conv0": 10, "conv1": 21, "conv2": 42, "conv3": 85,
                                                              "conv4": 85, "fc0": 42}
    wrapped = nn.Sequential(model)  # not a morph model: resized module by module (flatten → linear included)
    generic = rebuild(wrapped, {f"0.{p}": widths[g.id] for g in graph.groups for p in g.producers[:1]}, x)
    assert n_params(generic) == n_params(native) == graph_cost(graph, widths, "params_exact")
    assert generic(x).shape == (2, 10)
    with pytest.raises(MorphError, match="needs example_input"):
        rebuild(wrapped, {})


SMP = [("unet", "resnet18"), ("unet", "mobilenet_v2"), ("unet", "efficientnet-b0"), ("fpn", "resnet18"),
       ("deeplabv3plus", "resnet18")]


@pytest.mark.parametrize("arch, encoder", SMP)
def test_smp_shrunk_and_grown(arch: str, encoder: str) -> None:
    torch.manual_seed(0)
    model, x = smp_model(arch, encoder), torch.zeros(1, 3, 32, 32)
    graph = build_graph(model, x)
    before = n_params(model)
    for factor in (0.5, 1.5):
        widths = {g.id: max(1, round(factor * g.width)) for g in graph.groups}
        new = rebuild(model, widths, graph=graph)
        assert n_params(new) == graph_cost(graph, widths, "params_exact")
        with torch.no_grad():
            assert new.eval()(x).shape == (1, 1, 32, 32)
    assert n_params(model) == before  # deep copy


def test_group_norm_keeps_a_dividing_group_count() -> None:
    model, x = smp_model("fpn", "resnet18"), torch.zeros(1, 3, 32, 32)
    graph = build_graph(model, x)
    gn = next(g for g in graph.groups if any(isinstance(graph.modules[n], nn.GroupNorm) for n in g.norms))
    new = rebuild(model, {gn.id: 36}, graph=graph)
    norm = new.get_submodule(next(n for n in gn.norms if isinstance(graph.modules[n], nn.GroupNorm)))
    assert (norm.num_channels, norm.num_groups) == (36, 18)
    with torch.no_grad():
        new.eval()(x)


def test_conflicting_and_unknown_keys() -> None:
    model, x = smp_model("unet", "resnet18"), torch.zeros(1, 3, 32, 32)
    graph = build_graph(model, x)
    g = next(g for g in graph.groups if len(g.producers) > 1)
    with pytest.raises(MorphError, match="two widths"):
        rebuild(model, {g.producers[0]: 8, g.producers[1]: 9}, graph=graph)
    with pytest.raises(MorphError, match="neither a channel group"):
        rebuild(model, {"encoder.nope": 8}, graph=graph)
