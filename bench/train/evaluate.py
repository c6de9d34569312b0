"""One no-grad pass of a model over a data set, feeding a metric accumulator."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from bench.train._device import autocast, move_images
from bench.train.metrics import MetricAccumulator


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    metrics: MetricAccumulator,
    *,
    device: torch.device | str = "cpu",
    channels_last: bool = False,
    amp: bool = False,
    max_batches: int | None = None,
) -> dict[str, float]:
    """Put the model in eval mode, run it over ``batches`` and return ``metrics.compute()``.

    The model is left in eval mode, as the blog's ``check_accuracy`` left it; the training loop switches
    back (unless it reproduces the blog's bug).
    """
    device = torch.device(device)
    model.eval()
    for i, (images, target) in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            break
        with autocast(device, amp):
            logits = model(move_images(images, device, channels_last))
        metrics.update(logits.float(), target.to(device, non_blocking=True))
    return metrics.compute()
