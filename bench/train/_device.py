"""Where tensors live and in which precision: device checks, batch placement, autocast settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from bench.errors import BenchError


def resolve_device(name: str) -> torch.device:
    """``torch.device`` for a config name; CUDA must be present when asked for."""
    if name == "cuda" and not torch.cuda.is_available():
        raise BenchError("train.device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """Mixed precision for the forward pass: float16 on CUDA, bfloat16 on CPU (which has no float16 autocast)."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=enabled)


def grad_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    """Loss scaling is needed for float16 only, i.e. AMP on CUDA; elsewhere a disabled (pass-through) scaler."""
    return torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")


def move_images(images: Tensor, device: torch.device, channels_last: bool) -> Tensor:
    """Images onto the device, NHWC in memory when asked (4-D only)."""
    fmt = torch.channels_last if channels_last and images.dim() == 4 else torch.preserve_format
    return images.to(device, non_blocking=True, memory_format=fmt)


@contextmanager
def cudnn_autotune(device: torch.device, deterministic: bool) -> Iterator[None]:
    """``cudnn.benchmark`` on CUDA for the block (training shapes are fixed, so each kernel is tuned once),
    unless deterministic kernels were asked for; the flag is put back after."""
    previous = torch.backends.cudnn.benchmark
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous
