"""GPU check: our CUDA-event latency against torch.utils.benchmark, and against the roofline cost model.

Run on a machine with a CUDA device (it exits 0 with a message otherwise):

    python benchmarks/gpu_latency_check.py [--out results.json]

For each blog U-Net width and batch it prints
- ``ours``: median wall and CUDA-event time of ``bench.measure.measure_latency`` (fp32, then bf16 autocast +
  channels_last),
- ``tub``: ``torch.utils.benchmark.Timer.blocked_autorange`` median, an independent timer (it synchronizes),
- ``roofline``: ``morph``'s latency resource for the card's profile (H100/H200), which MorphNet's latency cost
  uses; the ratio measured/roofline says how far the per-layer roofline is from the card.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys

import torch
import torch.utils.benchmark as tub

from bench.measure.latency import measure_latency
from morph.groups import build_graph
from morph.models.unet import blog_unet
from morph.resources import graph_cost


def card_profile() -> str:
    name = torch.cuda.get_device_name()
    return "H200" if "H200" in name else "H100" if "H100" in name else "A100" if "A100" in name else "V100"


def tub_median(model: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode():
        timer = tub.Timer("model(x)", globals={"model": model, "x": x})
        return timer.blocked_autorange(min_run_time=1.0).median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    profile = card_profile()
    rows = []
    for base in (16, 64):
        for batch in (1, 8):
            model = blog_unet(base=base).eval()
            graph = build_graph(model, torch.zeros(1, 3, 256, 256))
            roof = graph_cost(graph, resource="latency", device=profile, batch=batch)
            ours = measure_latency(model, (3, 256, 256), device="cuda", batch=batch, warmup=10, min_runs=50,
                                   min_time_s=1.0)
            half = measure_latency(model, (3, 256, 256), device="cuda", batch=batch, warmup=10, min_runs=50,
                                   min_time_s=1.0, dtype="bfloat16", channels_last=True)
            model.cuda()
            x = torch.randn(batch, 3, 256, 256, device="cuda")
            torch.backends.cudnn.benchmark = True
            ref = tub_median(model, x)
            model.cpu()
            gpu_median = statistics.median(ours.gpu_samples_s or [math.nan])
            row = {"base": base, "batch": batch, "ours_wall_ms": ours.median * 1e3, "ours_event_ms": gpu_median * 1e3,
                   "tub_ms": ref * 1e3, "ours_over_tub": ours.median / ref, "bf16_cl_wall_ms": half.median * 1e3,
                   "roofline_ms": roof * 1e3, "measured_over_roofline": ours.median / roof, "n": ours.n}
            rows.append(row)
            print(json.dumps(row))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
