"""How long the embedded synthetic data set takes to render, relative to one training step on it.

Run: ``python -m pytest benchmarks --benchmark-enable``.
"""

from __future__ import annotations

from bench.data.synthetic import SyntheticBuildings


def test_render_64_scenes(benchmark) -> None:
    def render() -> None:
        data = SyntheticBuildings(64, size=128, seed=0)
        for i in range(len(data)):
            data[i]

    benchmark.pedantic(render, rounds=3, warmup_rounds=0)
