"""One training stage as its own process, for benchmarks/test_contention.py (``--loop``: a competitor that
trains until killed). Prints the stage's wall seconds and torch's thread count.

``--policy harness`` runs it as ``bench run`` does (OpenMP wait settings before torch loads, threads chosen
for the case); ``--policy torch`` leaves torch's defaults (all allowed cores, libgomp's long spin), as before
issue 16.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", choices=["harness", "torch"], default="harness")
    parser.add_argument("--loop", action="store_true")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    from bench.executors.threads import case_threads, wait_policy

    harness = args.policy == "harness"
    with wait_policy() if harness else contextlib.nullcontext():
        import torch

        from bench.data.synthetic import synthetic_buildings
        from bench.train import TrainConfig, train
        from morph.models import blog_unet

        splits = synthetic_buildings(40, size=96, seed=0, test_fraction=0.0)
        config = TrainConfig(epochs=args.epochs, batch_size=8, lr=1e-3, progress=False)
        while True:
            with case_threads() if harness else contextlib.nullcontext():
                threads = torch.get_num_threads()
                start = time.perf_counter()
                torch.manual_seed(0)
                train(blog_unet(base=16), splits, config)
                seconds = time.perf_counter() - start
            if not args.loop:
                print(f"{seconds:.3f} {threads}")
                return 0


if __name__ == "__main__":
    sys.exit(main())
