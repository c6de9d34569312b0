"""``bench calibrate`` and ``bench latency-check`` (registered on the app in :mod:`bench.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench.errors import BenchError

Device = Annotated[str, typer.Option("--device", help="cpu or cuda.")]
Threads = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads while timing (default: "
                                                "leave torch's).")]
Dtype = Annotated[str, typer.Option("--dtype", help="float32, float16 or bfloat16 (autocast).")]
Quick = Annotated[bool, typer.Option("--quick", help="A small grid and short timings: a smoke run, not a profile.")]
DTYPES = ("float32", "float16", "bfloat16")


def _check(device: str, dtype: str) -> None:
    if device not in ("cpu", "cuda"):
        raise BenchError(f"--device: expected cpu or cuda, got '{device}'")
    if dtype not in DTYPES:
        raise BenchError(f"--dtype: expected one of {', '.join(DTYPES)}, got '{dtype}'")


Models = Annotated[Optional[list[str]], typer.Option("--model", help="Model spec, repeatable.")]
Variants = Annotated[int, typer.Option("--variants", min=1, help="Random-width variants per model.")]
Sizes = Annotated[str, typer.Option("--sizes", help="Input sizes of the variants, comma-separated.")]
Batches = Annotated[str, typer.Option("--batches", help="Batch sizes of the variants, comma-separated.")]


def calibrate_command(
    device: Device = "cpu", threads: Threads = None, dtype: Dtype = "float32",
    out: Annotated[Optional[Path], typer.Option("--out", help="Profile file (default: "
                                                "reports/devices/NAME.json).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Device name (default: "
                                                "DEVICE{THREADS}-DTYPE-calibrated).")] = None,
    model: Models = None,
    variants: Annotated[int, typer.Option("--variants", min=0, help="Random-width variants per model (0: probes "
                                          "only).")] = 12,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Timings of each variant (its row: the median), "
                                        "mixed in one shuffled order with the probes.")] = 3,
    sizes: Sizes = "64,128", batches: Batches = "1,8", quick: Quick = False,
) -> None:
    """Time every layer kind and op the zoo uses on this device, and random-width variants of whole models
    (seed 1; default models: those latency-check uses), fit a latency model per batch size, write a device
    profile. Use it with `morph.device_profile = "reports/devices/NAME.json"`."""
    from bench.calibrate import GRIDS, calibrate, save_profile
    from bench.calibrate.accuracy import CheckSettings

    _check(device, dtype)
    name = name or f"{device}{threads or ''}-{dtype}-calibrated"
    path = out or Path("reports/devices") / f"{name}.json"
    models = CheckSettings(models=tuple(model) if model else CheckSettings.models, variants=variants,
                           sizes=_ints("--sizes", sizes), batches=_ints("--batches", batches),
                           seed=1, rounds=1 if quick else rounds) if variants else None
    cal = calibrate(GRIDS["quick" if quick else device], name, device=device, threads=threads, dtype=dtype,
                    models=models, on_task=lambda i, n: print(f"\r{i}/{n} timed", end="", flush=True))
    print()
    for kind, fit in sorted(cal.fits.items()):
        print(f"{kind:10s} n={fit.n:3d}  fit MAPE {fit.mape:6.1%}  within ±10% {fit.within_10:6.1%}")
    print(f"wrote {save_profile(cal, path)}")


def latency_check_command(
    profile: Annotated[Path, typer.Option("--profile", help="A calibrated profile file (bench calibrate).")],
    roofline: Annotated[str, typer.Option("--roofline", help="Roofline device to compare with.")] = "cpu2",
    device: Device = "cpu", threads: Threads = None, dtype: Dtype = "float32",
    model: Models = None, variants: Variants = 17, sizes: Sizes = "64,128", batches: Batches = "1,8",
    divisors: Annotated[str, typer.Option("--divisors", help="Channel divisors to compare at equal params "
                                          "(empty: skip).")] = "1,8,16",
    divisor_share: Annotated[float, typer.Option("--divisor-share", min=0.01, max=1.0, help="Their params "
                                                 "budget, a share of each seed model's.")] = 0.5,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Passes over all variants; each variant's latency "
                                        "is the median of its passes.")] = 3,
    out: Annotated[Path, typer.Option("--out", help="Folder for latency.md, figures/ and latency-points.csv.")]
    = Path("reports"),
    quick: Quick = False,
) -> None:
    """Predicted vs measured end-to-end latency of random-width variants (seed 0; default models: unet:base=16,
    smp_unet:encoder=resnet18, smp_fpn:encoder=mobilenet_v2), calibrated model and roofline side by side: share
    within ±10 %, MAPE, Spearman ρ; writes OUT/latency.md, a scatter plot and the points."""
    from bench.calibrate import GRIDS, load_profile
    from bench.calibrate.accuracy import CheckSettings, run_check, run_divisors, write_report
    from bench.measure import measure_latency
    from bench.store.environment import environment
    from morph.resources import get_device

    _check(device, dtype)
    settings = CheckSettings(models=tuple(model) if model else CheckSettings.models, variants=variants,
                             sizes=_ints("--sizes", sizes), batches=_ints("--batches", batches),
                             rounds=1 if quick else rounds)
    cal = load_profile(profile)
    try:
        roof = get_device(roofline)
    except Exception as exc:  # MorphError: unknown name, with a suggestion
        raise BenchError(f"--roofline: {exc}") from None
    # time the variants the way the profile's own samples were timed (its grid's protocol): with fewer warm-up
    # calls and runs the medians read 2-6 % slower than the calibration's, a bias of the check, not of the model
    grid, default = cal.measured_on.get("grid") or {}, GRIDS[device]  # a profile without its grid: the device's
    timing = dict(warmup=1, min_runs=3, min_time_s=0.0) if quick else {
        "warmup": int(grid.get("warmup", default.warmup)), "min_runs": int(grid.get("min_runs", default.min_runs)),
        "min_time_s": float(grid.get("min_time_s", default.min_time_s))}

    def measure(m: object, shape: tuple[int, ...], batch: int) -> float:
        return measure_latency(m, shape, device=device, batch=batch, threads=threads, dtype=dtype,  # type: ignore
                               **timing).median  # type: ignore[arg-type]

    devices = {cal.device.name: cal.device, roofline: roof}
    points = run_check(settings, devices, measure,
                       on_point=lambda i, n: print(f"\r{i}/{n} measured", end="", flush=True))
    print()
    divs = _ints("--divisors", divisors) if divisors else ()
    div_points = run_divisors(settings, divs, divisor_share, devices, measure) if divs else []
    env = environment()
    context = {"device": env["device"] if device == "cuda" else f"{env['cpu']} ({device})",
               "threads": threads or env["torch_threads"], "dtype": dtype, "profile": str(profile),
               "torch": env["packages"].get("torch"), "commit": (env.get("git_commit") or "?")[:10]}
    for path in write_report(points, settings, context, out, rescale=(roofline,), divisors=div_points,
                             share=divisor_share):
        print(f"wrote {path}")


def _ints(option: str, text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise BenchError(f"{option}: expected positive integers separated by commas, got '{text}'")
    return values
