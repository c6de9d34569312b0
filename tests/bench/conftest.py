"""A tiny suite that runs the whole pipeline in seconds on a CPU."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

TINY = """
name = "tiny"
seeds = [0]
[data]
name = "synthetic_buildings"
count = 16
size = 32
[model]
name = "unet"
base = 4
depth = 2
[train]
epochs = 1
batch_size = 8
lr = 1e-3
[morph]
strength = 1e-6
proximal = true
epochs = {learn_epochs}
lr = 1e-2
min_fraction = 0.25
[measure]
batch_sizes = [1]
warmup = 0
min_runs = 1
min_time_s = 0.0
[matrix]
"morph.method" = ["morphnet", "uniform"]
"morph.symmetry" = [0, 2]
exclude = [{{ "morph.method" = "uniform", "morph.symmetry" = 2 }}]
{extra}
"""


#: A ``[measure]`` section that times each model once, without warm-up (tests measure nothing).
FAST_MEASURE = """[measure]
batch_sizes = [1]
warmup = 0
min_runs = 1
min_time_s = 0.0
"""


def small_suite(name: str, *, count: int = 8, base: int = 4, depth: int | None = 2, rest: str = "") -> str:
    """A one-seed suite on a few 32² synthetic scenes and a small U-Net; ``rest`` adds sections."""
    model = f"base = {base}\n" + (f"depth = {depth}\n" if depth is not None else "")
    return (f'name = "{name}"\nseeds = [0]\n[data]\nname = "synthetic_buildings"\ncount = {count}\nsize = 32\n'
            f'[model]\nname = "unet"\n{model}{rest}')


def write_tiny(folder: Path, learn_epochs: int = 1, extra: str = "") -> Path:
    path = folder / "tiny.toml"
    path.write_text(TINY.format(learn_epochs=learn_epochs, extra=extra))
    return path


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    return write_tiny(tmp_path)


@pytest.fixture
def make_tiny(tmp_path: Path) -> Callable[..., Path]:
    """Write the tiny suite with more structure-learning epochs or extra matrix lines."""
    return lambda learn_epochs=1, extra="": write_tiny(tmp_path, learn_epochs, extra)
