"""The ``bench`` command: parses arguments, calls :mod:`bench.api`, prints. Exit codes: 0 all cases ok,
1 some case failed, 2 bad usage or a bad suite (one line per problem, no traceback)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from pydantic import ValidationError

from bench import api
from bench.console import VERBOSE
from bench.errors import USER_ERRORS, BenchError, one_line, printable
from bench.store.paths import output_file, output_folder
from morph.errors import MorphError

app = typer.Typer(
    help="Shrink segmentation networks under a resource budget with MorphNet, and benchmark the result.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

SuiteArg = Annotated[Path, typer.Argument(help="A suite file, e.g. suites/symmetry.toml.")]
Profile = Annotated[str, typer.Option("--profile", "-p", help="Suite profile: quick (2 CPU cores) or full.")]
Results = Annotated[Path, typer.Option("--results", "-r", help="Results folder (resumable; safe to copy/merge).")]
DataPath = Annotated[Optional[Path], typer.Option("--data-path", help="Data folder (beats the suite's and "
                                                  "MORPH_BENCH_DATA_<NAME>).")]
F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """The CLI's one error boundary: every error the user can cause (a bad file, key, value, path or store)
    becomes ``error: <one line>`` per problem on stderr and exit code 2; bugs keep their traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (*USER_ERRORS, MorphError, ValidationError) as exc:
            problems = getattr(exc, "problems", None) or [one_line(exc)]
            for line in problems:
                print(f"error: {printable(line)}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@_user_errors
def run(
    suites: Annotated[list[Path], typer.Argument(help="One or more suite files, e.g. suites/symmetry.toml; with "
                                                 "--jobs, the cases of all of them share one pool of workers.")],
    profile: Profile = "quick",
    results: Results = api.DEFAULT_RESULTS,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Cases run at once.")] = 1,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Case id prefix or label (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo stages that already finished.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Redo stages that failed.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would run, run nothing.")] = False,
    data_path: DataPath = None,
    progress: Annotated[bool, typer.Option(help="Progress bars on stderr.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Off a terminal, also one line per epoch.")] = False,
    executor: Annotated[str, typer.Option(help="local (worker processes), ray or slurm (submitit).")] = "local",
    address: Annotated[Optional[str], typer.Option(help="ray: cluster address (default: start Ray here).")] = None,
    slurm_partition: Annotated[Optional[str], typer.Option(help="slurm: partition.")] = None,
    slurm_time: Annotated[Optional[int], typer.Option(help="slurm: minutes per task [60].", min=1)] = None,
    slurm_gpus: Annotated[Optional[int], typer.Option(help="slurm: GPUs per task [1 on cuda].", min=0)] = None,
    slurm_cpus: Annotated[Optional[int], typer.Option(help="slurm: CPUs per task [cluster default].", min=1)] = None,
    slurm_array_parallelism: Annotated[Optional[int], typer.Option(help="slurm: tasks at once [--jobs].",
                                                                   min=1)] = None,
) -> None:
    """Run (or resume) every case of one or more suites; finished stages are skipped, failed cases recorded."""
    if device not in ("cpu", "cuda"):
        raise BenchError(f"--device: expected cpu or cuda, got '{device}'")
    output_folder(results, "--results", create=False)
    VERBOSE.on = verbose
    backend = {"address": address, "slurm_partition": slurm_partition, "slurm_time": slurm_time,
               "slurm_gpus": slurm_gpus, "slurm_cpus": slurm_cpus, "slurm_array_parallelism": slurm_array_parallelism}
    try:
        summary = api.run_suites(suites, profile=profile, results=results, device=device, only=only or (),
                                 force=force, retry_failed=retry_failed, dry_run=dry_run, data_path=data_path,
                                 jobs=jobs, progress=progress, executor=executor,
                                 executor_options={k: v for k, v in backend.items() if v is not None})
    except KeyboardInterrupt:
        print(f"interrupted: finished stages are kept in {results}; rerun to resume", file=sys.stderr)
        raise typer.Exit(130) from None
    bad = {k: v for k, v in summary.statuses.items() if v != "ok"}
    if not dry_run:
        print(f"{len(summary.statuses) - len(bad)}/{len(summary.statuses)} cases ok; results in {results}"
              + (f"; not ok: {', '.join(f'{k} ({v})' for k, v in bad.items())}" if bad else ""))
    raise typer.Exit(summary.exit_code)


@app.command("list")
@_user_errors
def list_(suite: SuiteArg, profile: Profile = "quick", results: Results = api.DEFAULT_RESULTS,
          data_path: DataPath = None) -> None:
    """The suite's expanded cases: id, status, label and stages."""
    for row in api.list_cases(suite, profile=profile, results=results, data_path=data_path):
        print(f"{row['id']}  {row['status']:8s}  {row['label']}  [{row['stages']}]")


@app.command()
@_user_errors
def show(case_id: Annotated[str, typer.Argument(help="Case id or unique prefix.")],
         results: Results = api.DEFAULT_RESULTS,
         as_json: Annotated[bool, typer.Option("--json", help="Print the full records.")] = False) -> None:
    """One case's stage records."""
    records = api.case_records(case_id, results)
    if as_json:
        print(json.dumps(records, indent=1, default=str))
        return
    from bench.report import summary_table
    from bench.store import load_results

    df = load_results(results)
    table = summary_table(df[df["case_id"] == records[0]["case_id"]], errors=True)
    print(table.to_markdown(index=False, floatfmt=".4g"))
    if (table["Status"] == "failed").any():
        print("failed stages are replayed by `bench run`; fix the cause, then rerun with --retry-failed")


@app.command()
@_user_errors
def validate(suite: SuiteArg, profile: Profile = "quick", data_path: DataPath = None) -> None:
    """Check a suite file; prints one line per problem and exits 2 if there are any."""
    loaded = api.validate_suite(suite, profile, data_path)
    print(f"{suite}: ok, {len(loaded.cases())} cases under profile '{profile}'")


@app.command()
@_user_errors
def model(
    spec: Annotated[str, typer.Argument(help="e.g. unet:base=16 or smp_unet:encoder=resnet18")],
    input: Annotated[str, typer.Option("--input", help="CxHxW")] = "3x128x128",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Params, MACs (fvcore) and channel-group widths of any model the harness can build."""
    from bench.model_spec import parse_input_shape

    info = api.describe_model(spec, parse_input_shape(input))
    if as_json:
        print(json.dumps(info, indent=1))
        return
    print(f"{info['model']} @ {'x'.join(map(str, info['input']))}: {info['params']:,} params, "
          f"{info['macs'] / 1e9:.3f} GMACs = {info['flops'] / 1e9:.3f} GFLOPs (fvcore, 2 FLOPs per MAC)")
    for name, width in info["widths"].items():
        print(f"  {name}: {width}")


@app.command()
@_user_errors
def report(
    results: Annotated[list[Path], typer.Argument(help="Results folder(s) or records .jsonl file(s); several "
                                                  "are merged.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Reports folder (<suite>.md, figures/, index.md, and "
                                                "the records as records/<suite>.jsonl); without it the markdown, "
                                                "no figures, goes to stdout.")] = None,
) -> None:
    """Blog-style reports: per-stage tables (mean ± 95% interval over seeds), layer widths, Pareto and γ figures.

    With --out the records behind the reports are kept in OUT/records, so `bench report OUT/records --out OUT`
    regenerates the same bytes on any machine, without the results folder.
    """
    if out is None:
        print(api.report_text(results), end="")
        return
    for path in api.write_report(results, output_folder(out, "--out")):
        print(f"wrote {path}")


@app.command()
@_user_errors
def compare(
    a: Annotated[Path, typer.Argument(help="Results folder A (the reference).")],
    b: Annotated[Path, typer.Argument(help="Results folder B.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Markdown file to write instead of stdout.")] = None,
) -> None:
    """Two result sets side by side, matched by (suite, case, stage): A, B, B − A and B / A; quality also as a
    paired comparison over seeds: Δ [95% CI], P(B > A), n."""
    text = api.compare_results(a, b)
    if out is None:
        print(text, end="")
        return
    output_file(out, "--out").write_text(text, encoding="utf-8")
    print(f"wrote {out}")


@app.command()
@_user_errors
def verify(
    records: Annotated[Path, typer.Argument(help="Committed records (archives or a results folder).")] = Path(
        "reports/records"),
    cases: Annotated[Optional[str], typer.Option("--cases", help="Comma-separated case ids (or prefixes).")] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", help="Rerun N committed cases drawn by --seed.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --sample draw.")] = 0,
    work: Annotated[Optional[Path], typer.Option("--work", help="Scratch results folder, kept (default: a "
                                                 "temporary folder, removed).")] = None,
    suites: Annotated[Path, typer.Option("--suites", help="Folder of the suite files.")] = Path("suites"),
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    tolerance: Annotated[float, typer.Option("--tolerance", help="Absolute Dice/accuracy band for one committed "
                                             "seed without per-image counts.")] = 0.05,
) -> None:
    """Rerun committed cases and judge each metric: params/FLOPs/widths bit-exact (a structure learned on another
    CPU model or SIMD level, thread count or torch version: params/FLOPs in the seed band, widths shown),
    Dice/accuracy inside the committed seed band or interval. Exit 0 when every judged metric reproduced, 1
    otherwise."""
    from bench import verify as verifying

    ids = [c.strip() for c in cases.split(",") if c.strip()] if cases else []
    checks = verifying.verify(records, cases=ids, sample=sample, seed=seed, work=work, suites=suites,
                              device=device, tolerance=tolerance)
    print(verifying.table(checks))
    judged = [c for c in checks if c.judged]
    failed = sum(not c.ok for c in judged)
    shown = len(checks) - len(judged)
    elsewhere = f"; {shown} learned structure(s) from another CPU, thread count or torch shown, not judged"
    print(f"\n{len(judged) - failed} of {len(judged)} judged checks reproduced" + (elsewhere if shown else ""))
    raise typer.Exit(1 if failed else 0)


@app.command()
@_user_errors
def remeasure(
    suite: SuiteArg,
    results: Results = api.DEFAULT_RESULTS,
    profile: Profile = "quick",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Passes over all the suite's models; each "
                                        "model's latency pools the samples of its passes.")] = 3,
) -> None:
    """Time every finished model of SUITE again (on a quiet machine) and replace the latency in its records;
    training results are not touched. Use after a run that shared its cores (--jobs, other users). The models
    are timed in passes (--rounds), so a machine whose speed drifts slows every model alike."""
    from bench.remeasure import remeasure as run

    if device not in ("cpu", "cuda"):
        raise BenchError(f"--device: expected cpu or cuda, got '{device}'")
    output_folder(results, "--results", create=False)
    done, skipped = run(suite, results, profile=profile, device=device, rounds=rounds, on_record=print)
    print(f"re-timed {done} record(s); {skipped} left as they were (structure-learning records list alive widths)")


@app.command()
@_user_errors
def export(
    case_id: Annotated[str, typer.Argument(help="Case id or unique prefix.")],
    results: Results = api.DEFAULT_RESULTS,
    stage: Annotated[Optional[str], typer.Option(help="e.g. shrink-it1; default: the last finished stage.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="ONNX file to write.")] = None,
) -> None:
    """Rebuild a case's compressed model from its widths and weights and write it as ONNX."""
    path = api.export_onnx(case_id, out if out is None else output_file(out, "--out"), results, stage)
    print(f"wrote {path} and {path.with_suffix('.widths.json')}")


from bench.calibrate.commands import calibrate_command, latency_check_command  # noqa: E402

app.command("calibrate")(_user_errors(calibrate_command))
app.command("latency-check")(_user_errors(latency_check_command))

if __name__ == "__main__":  # pragma: no cover
    app()
