"""Training throughput of the harness loop per setting, with the GPU's utilisation while it runs.

    python benchmarks/gpu_speed.py --device cuda [--tiny] [--out speed.json]

Trains the quickstart's base stage (blog U-Net base 16, synthetic 96 px scenes, batch 8) with
``bench.train.train`` once per variant: the defaults, a host sync every step (as before issue 16), channels_last,
AMP, torch.compile and a larger batch. For each it reports images/s over the epochs after the first (warm-up,
compilation), the wall time, and the mean GPU utilisation sampled every 0.1 s (``torch.cuda.utilization``,
else ``nvidia-smi``; none on the CPU). ``--tiny`` shrinks everything so the script runs in seconds on a CPU
(the test suite runs it that way). Prints a markdown table; ``--out`` also writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import torch

from bench.data.synthetic import synthetic_buildings
from bench.train import TrainConfig, train
from morph.models import blog_unet

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "sync every step": {"check_every": 1},
    "channels_last": {"channels_last": True},
    "amp": {"amp": True},
    "amp + channels_last": {"amp": True, "channels_last": True},
    "compile": {"compile": True},
    "batch 32": {"batch_size": 32},
}


def gpu_utilisation() -> float | None:
    """The GPU's utilisation in percent now, or None when it cannot be read."""
    try:
        return float(torch.cuda.utilization())
    except Exception:  # no pynvml / amdsmi: ask the driver's tool
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                  "-i", str(torch.cuda.current_device())], capture_output=True, text=True, timeout=5)
            return float(out.stdout.strip().splitlines()[0])
        except Exception:
            return None


class Sampler:
    """Samples the GPU's utilisation in a background thread while a block runs."""

    def __init__(self, enabled: bool, every_s: float = 0.1) -> None:
        self.enabled, self.every_s, self.samples = enabled, every_s, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            value = gpu_utilisation()
            if value is not None:
                self.samples.append(value)

    def __enter__(self) -> Sampler:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()

    def mean(self) -> float | None:
        return statistics.fmean(self.samples) if self.samples else None


def run_variant(name: str, overrides: dict[str, Any], device: str, tiny: bool) -> dict[str, Any]:
    splits = synthetic_buildings(16 if tiny else 128, size=32 if tiny else 96, seed=0)
    config = TrainConfig(epochs=2 if tiny else 4, batch_size=4 if tiny else 8, lr=1e-3, device=device,  # type: ignore[arg-type]
                         progress=False, seed=0)
    config = TrainConfig(**{**config.__dict__, **overrides})
    torch.manual_seed(0)
    model = blog_unet(base=4 if tiny else 16, depth=2 if tiny else 4)
    start = time.perf_counter()
    try:
        with Sampler(device == "cuda") as sampler:
            result = train(model, splits, config)
    except Exception as exc:  # e.g. torch.compile without a compiler: report, go on with the next variant
        return {"variant": name, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    if device == "cuda":
        torch.cuda.synchronize()
    rates = [row["images_per_s"] for row in result.history[1:]] or [result.history[-1]["images_per_s"]]
    return {"variant": name, "device": device, "images_per_s": statistics.fmean(rates),
            "wall_s": time.perf_counter() - start, "gpu_util_percent": sampler.mean(),
            "val_dice": result.val_metrics.get("dice"), "status": result.status}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| variant | images/s | wall (s) | GPU util (%) | val Dice |", "|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['variant']} | failed: {r['error']} | | | |")
            continue
        util = "–" if r["gpu_util_percent"] is None else f"{r['gpu_util_percent']:.0f}"
        lines.append(f"| {r['variant']} | {r['images_per_s']:.1f} | {r['wall_s']:.1f} | {util} | "
                     f"{r['val_dice']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--tiny", action="store_true", help="seconds on a CPU: the test suite's setting")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--out", help="also write the rows here as JSON")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_speed: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        print(f"gpu_speed: --variants: unknown {unknown} (known: {', '.join(VARIANTS)})", file=sys.stderr)
        return 2
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu × {torch.get_num_threads()} threads"
    rows = [run_variant(name, VARIANTS[name], args.device, args.tiny) for name in args.variants]
    print(f"training throughput on {where}\n\n{table(rows)}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"device": where, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
