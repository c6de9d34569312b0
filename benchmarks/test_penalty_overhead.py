"""What MorphNet's penalty adds to a training step of the blog U-Net on CPU.

Run: ``python -m pytest benchmarks --benchmark-enable``; the ratio is printed and stored in
``extra_info`` of the JSON (``--benchmark-json``). Both sides are measured in the same run, because the
machines are noisy: compare the ratio, not the seconds. The target (issue 3) is ≤ 5 %.
"""

from __future__ import annotations

import time

import pytest
import torch

from morph import MorphNetRegularizer
from morph.models import blog_unet


def _median_s(fn, repeats: int = 7) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return sorted(samples)[len(samples) // 2]


@pytest.mark.parametrize("resource", ["flops", "params", "latency"])
def test_penalty_overhead(benchmark, resource: str) -> None:
    torch.manual_seed(0)
    model = blog_unet(16)
    x = torch.rand(8, 3, 128, 128)
    target = (torch.rand(8, 1, 128, 128) > 0.7).float()
    reg = MorphNetRegularizer(model, x[:1], resource=resource, source="gamma")
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step(with_penalty: bool) -> None:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), target)
        if with_penalty:
            loss = loss + 1e-9 * reg.penalty()
        loss.backward()
        opt.step()

    plain = _median_s(lambda: step(False))
    penalised = benchmark.pedantic(lambda: step(True), rounds=7, warmup_rounds=1)  # noqa: F841
    with_pen = benchmark.stats.stats.median
    benchmark.extra_info.update(plain_step_s=plain, penalised_step_s=with_pen, overhead=with_pen / plain - 1)
    print(f"\n{resource}: step {plain * 1e3:.1f} ms, with penalty {with_pen * 1e3:.1f} ms, "
          f"overhead {100 * (with_pen / plain - 1):+.1f} %")
