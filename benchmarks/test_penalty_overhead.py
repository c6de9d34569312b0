"""What MorphNet's penalty adds to a training step of the blog U-Net on CPU.

Run: ``python -m pytest benchmarks/test_penalty_overhead.py --benchmark-enable -s``. Plain and penalised steps
alternate (so drift and warm-up hit both alike) and the overhead is the ratio of their medians, printed and
stored in ``extra_info`` (``--benchmark-json``): compare the ratio, not the seconds. Target (issue 3): ≤ 5 %.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from morph import MorphNetRegularizer
from morph.models import blog_unet

ROUNDS = 15


@pytest.mark.parametrize("resource", ["flops", "params", "latency"])
def test_penalty_overhead(benchmark, resource: str) -> None:
    torch.manual_seed(0)
    model = blog_unet(16)
    x = torch.rand(8, 3, 128, 128)
    target = (torch.rand(8, 1, 128, 128) > 0.7).float()
    reg = MorphNetRegularizer(model, x[:1], resource=resource, source="gamma",
                              device="cpu2" if resource == "latency" else None)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step(with_penalty: bool) -> float:
        start = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), target)
        if with_penalty:
            loss = loss + 1e-9 * reg.penalty()
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    step(False), step(True)  # warm-up
    plain, penalised = [], []
    for _ in range(ROUNDS):
        plain.append(step(False))
        penalised.append(step(True))
    benchmark.pedantic(reg.penalty, rounds=20, warmup_rounds=2)  # the penalty alone, forward only
    overhead = statistics.median(penalised) / statistics.median(plain) - 1
    benchmark.extra_info.update(plain_step_s=statistics.median(plain), penalised_step_s=statistics.median(penalised),
                                overhead=overhead)
    print(f"\n{resource}: step {1e3 * statistics.median(plain):.1f} ms, with penalty "
          f"{1e3 * statistics.median(penalised):.1f} ms, overhead {100 * overhead:+.1f} %")
