"""Is MorphNet's model measurably faster than its seed, and how does it compare with uniform? Interleaved timing.

For each seed of a suite, the base model, MorphNet's last expanded model and the uniform baseline of the same seed
are rebuilt from the widths in the records and timed in ``--rounds`` rounds, one model after the other in each
round, each time with the case's own ``[measure]`` protocol. Why interleaved: on a shared VM whose speed drifts by
a third within minutes, models timed minutes apart (``bench remeasure``) are compared at different speeds; within a
round they see the same machine. Prints, per seed, the median and IQR of the round medians, MorphNet ÷ base and
MorphNet ÷ uniform per round, and in how many rounds MorphNet was faster than its seed.

    python benchmarks/latency_pairs.py suites/latency.toml --results results --rounds 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _iqr(values: np.ndarray) -> str:
    return f"{np.median(values):.3g} [{np.quantile(values, 0.25):.3g}, {np.quantile(values, 0.75):.3g}]"


def pairs(suite_file: Path, results: Path, rounds: int, profile: str = "quick") -> list[str]:
    """One line per seed (see the module doc); seeds without all three finished models are skipped."""
    from bench.measure import in_passes
    from bench.pipeline import stage_records
    from bench.pipeline.context import CaseContext
    from bench.suite import load_suite

    def final(case, stages) -> dict | None:  # the last finished record among ``stages``, as a dict of widths
        found = [r for _, r in stage_records(results, case) if r is not None and r.status == "ok" and r.stage in stages]
        return found[-1].widths if found else None

    cases = load_suite(suite_file, profile=profile).cases()
    lines = []
    for case in (c for c in cases if c.config.morph.method == "morphnet"):
        uniform = next((c for c in cases if c.seed == case.seed and c.config.morph.method == "uniform"), None)
        widths = {"base": final(case, {"base"}), "morphnet": final(case, {"expand"}),
                  "uniform": final(uniform, {"uniform"}) if uniform is not None else None}
        if any(w is None for w in widths.values()):
            continue
        ctx = CaseContext(case, progress=False)
        models = {k: ctx.model_at(w) for k, w in widths.items()}
        timing = ctx.timing(case.config.measure.batch_sizes[0])
        ms = in_passes(list(models.values()),
                       lambda model: 1e3 * timing.measure(model, ctx.input_shape, ctx.device).median, rounds)
        base, morph, uni = (np.array(ms[i]) for i, _ in enumerate(models))  # base, morphnet, uniform
        lines.append(f"{case.label}: base {_iqr(base)} ms, MorphNet {_iqr(morph)} ms, uniform {_iqr(uni)} ms; "
                     f"MorphNet/base {_iqr(morph / base)}, faster in {int((morph < base).sum())}/{rounds} rounds; "
                     f"MorphNet/uniform {_iqr(morph / uni)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args(argv)
    if args.rounds < 1 or not args.results.is_dir():
        print(f"latency_pairs: need --rounds ≥ 1 and an existing results folder, got {args.rounds} and "
              f"{args.results}", file=sys.stderr)
        return 2
    lines = pairs(args.suite, args.results, args.rounds, args.profile)
    print("\n".join(lines) if lines else "latency_pairs: no seed has base, MorphNet and uniform records")
    return 0 if lines else 1


if __name__ == "__main__":
    sys.exit(main())
