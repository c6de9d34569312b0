"""The expand/uniform width search lands on the same widths whatever order the parent's widths come in: just
computed (the network's forward order) or loaded from a checkpoint (sorted keys). It did not: on the layers
suite's second MorphNet iteration the same shrunk widths gave 187,982 parameters from a checkpoint and 187,994
in memory (3 of 22 widths a channel apart), so a rerun could not reproduce a resumed run."""

from __future__ import annotations

from pathlib import Path

from bench.methods import StageSettings, get_method
from bench.pipeline import stages as S
from bench.pipeline.context import CaseContext
from bench.suite import load_suite
from tests.bench.conftest import small_suite

# layers.toml's e4db6ea92d14, shrink of iteration 2 (seed 1), base-16 U-Net
SHRUNK = {"dec0.0": 3, "dec0.1": 11, "dec1.0": 2, "dec1.1": 22, "dec2.0": 3, "dec2.1": 44, "dec3.0": 8, "dec3.1": 87,
          "enc0.0": 9, "enc0.1": 2, "enc1.0": 22, "enc1.1": 1, "enc2.0": 44, "enc2.1": 1, "enc3.0": 88, "enc3.1": 2,
          "enc4.0": 3, "enc4.1": 176, "up0": 11, "up1": 2, "up2": 13, "up3": 13}


def test_the_search_ignores_the_order_of_the_parent_widths(tmp_path: Path) -> None:
    path = tmp_path / "order.toml"
    path.write_text(small_suite("order", base=16, depth=None) + """
[morph]
method = "morphnet"
resource = "params"
min_fraction = 0.1
budget = 1.88e5
""")
    case = load_suite(path).cases()[0]
    ctx = CaseContext(case, progress=False)
    m = StageSettings(case.config.morph, next(s for s in get_method("morphnet").stages if s.name == "expand"))
    forward = {k: SHRUNK[k] for k in ctx.layer_order}
    found = [S.multiplier_target(ctx, m, order) for order in (forward, dict(sorted(SHRUNK.items())),
                                                             dict(reversed(list(forward.items()))))]
    assert found[0]["widths"] == found[1]["widths"] == found[2]["widths"]
    assert found[0]["cost"] == 187_994 and list(found[0]["widths"]) == ctx.layer_order
