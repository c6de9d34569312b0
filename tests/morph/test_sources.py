"""Sources: |γ| and per-channel RMS group lasso, max over tied members, fallbacks."""

from __future__ import annotations

import torch
from nets import Chain, Residual, example

from morph.groups import build_graph
from morph.models import blog_unet, smp_model
from morph.sources import create_source, source_names

torch.set_num_threads(1)


def test_names() -> None:
    assert {"gamma", "group_lasso"} <= set(source_names())


def test_gamma_max_over_tied_norms() -> None:
    net = Residual()
    with torch.no_grad():
        net.stem[1].weight.copy_(torch.tensor([0.1, -0.5, 0.0, 0.2]))
        net.c1[1].weight.copy_(torch.tensor([0.3, 0.1, 0.0, -0.1]))
    g = build_graph(net, example())
    src = create_source("gamma")(g, g.group_of("stem.0"))
    assert src.kind == "gamma" and len(src.members) == 2
    assert torch.allclose(src.strength(), torch.tensor([0.3, 0.5, 0.0, 0.2]))


def test_group_lasso_is_channel_rms() -> None:
    net = Chain()
    g = build_graph(net, example())
    src = create_source("group_lasso")(g, g.group_of("a.0"))
    w = net.a[0].weight
    assert torch.allclose(src.strength(), w.pow(2).mean((1, 2, 3)).sqrt())


def test_fallbacks() -> None:
    model = blog_unet(8)
    g = build_graph(model, torch.randn(1, 3, 32, 32))
    up = next(grp for grp in g.groups if grp.name == "up0")
    src = create_source("gamma")(g, up)
    assert src.kind == "group_lasso" and src.members[0].dim == 1  # ConvTranspose2d: out channels on dim 1
    assert src.strength().shape == (8,)
    fpn = smp_model("fpn", "resnet18")
    g = build_graph(fpn, torch.randn(1, 3, 64, 64))
    kinds = {grp.name: create_source("gamma")(g, grp).kind for grp in g.groups}
    gn_groups = [grp.name for grp in g.groups if grp.norms and "seg_blocks" in grp.norms[0]]
    assert gn_groups and all(kinds[n] == "group_lasso" for n in gn_groups)
    assert kinds["encoder.conv1"] == "gamma"
