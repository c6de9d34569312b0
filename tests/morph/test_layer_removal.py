"""Layer removal: a block conv with no alive channel is dropped and the block becomes one conv shorter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from morph.errors import MorphError
from morph.gates import gates, insert_gates
from morph.layer_removal import block_convs, dead_convs
from morph.models import UNet, blog_unet, smp_model
from morph import rebuild
from morph.regularizer import MorphNetRegularizer

torch.set_num_threads(1)


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_dead_convs_keep_one_conv_per_block() -> None:
    blocks = {"enc0": ["enc0.0", "enc0.1"], "enc2": ["enc2.0", "enc2.1"], "dec1": ["dec1.0", "dec1.1"],
              "one": ["one.0"]}
    alive = {"enc0.0": 0, "enc0.1": 0, "enc2.0": 0, "enc2.1": 5, "dec1.0": 3, "dec1.1": 0.2, "one.0": 0}
    # enc0 all dead: its last conv stays (at its floor); dec1.1 rounds to 0 alive; a one-conv block stays
    assert dead_convs(alive, blocks) == ["enc0.0", "enc2.0", "dec1.1"]
    assert dead_convs({}, blocks) == []  # missing counts are alive
    assert block_convs(blog_unet(8))["enc2"] == ["enc2.0", "enc2.1"]
    with pytest.raises(MorphError, match="no conv blocks"):
        block_convs(nn.Conv2d(1, 1, 1))


def test_rebuilt_unet_without_dead_convs() -> None:
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    alive = {k: 0 if k in ("enc2.0", "dec1.1") else w for k, w in model.widths.items()}
    drop = dead_convs(alive, block_convs(model))
    assert drop == ["enc2.0", "dec1.1"]
    new = rebuild(model, {k: max(1, w) for k, w in alive.items()}, remove=drop)
    assert new(x).shape == (1, 1, 32, 32)
    assert new.block_convs["enc2"] == ["enc2.1"] and "enc2.0" not in new.widths
    assert new.encoder[2][0].conv.in_channels == 16  # enc2.1 now reads the pooled enc1 output
    assert new.decoder[2][0].conv.out_channels == 16 and len(new.decoder[2]) == 1
    # by hand (base 8: enc1 16, enc2 32, dec1 16 channels; 3×3 convs with bias, BN γ and β):
    # enc2.0 goes (9·16·32 + 32 weights and bias, 2·32 BN), enc2.1 reads 16 channels, not 32 (9·16·32 fewer),
    # dec1.1 goes (9·16·16 + 16, 2·16 BN)
    removed = (9 * 16 * 32 + 32 + 2 * 32) + 9 * 16 * 32 + (9 * 16 * 16 + 16 + 2 * 16)
    assert params(model) == 487_289 and params(new) == 487_289 - removed
    again = rebuild(new, {"enc3.0": 20})  # a further rebuild keeps the removal
    assert again.block_convs["enc2"] == ["enc2.1"] and again.encoder[3][0].conv.out_channels == 20


def test_dead_gates_remove_a_conv() -> None:
    """FiGS can kill a whole layer (no channel kept alive by force): the rebuilt block has one conv."""
    model, x = blog_unet(8), torch.randn(1, 3, 32, 32)
    insert_gates(model, x)
    with torch.no_grad():
        gates(model)["encoder.3.0.2"].logits.fill_(-3.0)  # enc3.0's gate, after its BatchNorm
    reg = MorphNetRegularizer(model, x, source="logistic_sigmoid", threshold=0.1)
    model.eval()
    alive = {g.name: int(src.alive().sum()) for g, src in zip(reg.graph.groups, reg.sources)}
    assert alive["enc3.0"] == 0 and alive["enc3.1"] == 64
    drop = dead_convs(alive, block_convs(model))
    assert drop == ["enc3.0"]
    new = rebuild(model, {k: max(1, w) for k, w in alive.items()}, remove=drop)
    assert new.block_convs["enc3"] == ["enc3.1"] and new(x).shape == (1, 1, 32, 32)


def test_bad_removals() -> None:
    with pytest.raises(MorphError, match="without a conv"):
        blog_unet(8).rebuild(blog_unet(8).widths, remove=["enc1.0", "enc1.1"])
    with pytest.raises(MorphError, match="only block convs"):
        UNet(blog_unet(8).widths, removed=["up1"])
    with pytest.raises(MorphError, match="layer removal needs"):
        rebuild(smp_model("unet", "resnet18"), {}, torch.randn(1, 3, 64, 64), remove=["encoder.conv1"])
