"""What the CLI commands do, as plain functions (the CLI only parses arguments and prints)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.console import is_terminal, print_stage, stderr
from bench.errors import BenchError
from bench.suite import Case, Suite, load_suite

if TYPE_CHECKING:
    from torch import nn

DEFAULT_RESULTS = Path("results")


@dataclass(frozen=True)
class RunSummary:
    """Per-case final status of one ``bench run``."""

    statuses: dict[str, str]

    @property
    def exit_code(self) -> int:
        return 0 if all(s == "ok" for s in self.statuses.values()) else 1


def select_cases(suite: Suite, only: Sequence[str] = ()) -> list[Case]:
    """All cases, or those whose id starts with one of ``only`` (or whose label equals one)."""
    return _select([suite], [suite.cases()], only)


def _select(suites: Sequence[Suite], expanded: Sequence[Sequence[Case]], only: Sequence[str]) -> list[Case]:
    """The cases of every suite (``expanded``: each suite's ``cases()``) in order, a case in two suites once, or
    those ``only`` names; an ``only`` that matches no case of any suite is an error."""
    cases = list({c.id: c for suite_cases in expanded for c in suite_cases}.values())
    if not only:
        return cases
    chosen = [c for c in cases if any(c.id.startswith(o) or c.label == o for o in only)]
    missing = [o for o in only if not any(c.id.startswith(o) or c.label == o for c in cases)]
    if missing:
        where = ", ".join(str(s.path) for s in suites)
        raise BenchError(f"{where}: --only: no case matches {', '.join(missing)} (see `bench list "
                         f"{suites[0].path}`)")
    return chosen


def run_suite(suite_path: Path, **kwargs: Any) -> RunSummary:
    """Run (or resume) the cases of one suite (:func:`run_suites`)."""
    return run_suites([suite_path], **kwargs)


def run_suites(
    suite_paths: Sequence[Path], *, profile: str = "quick", results: Path = DEFAULT_RESULTS, device: str = "cpu",
    only: Sequence[str] = (), force: bool = False, retry_failed: bool = False, dry_run: bool = False,
    data_path: Path | None = None, jobs: int = 1, progress: bool = True, executor: str = "local",
    executor_options: dict[str, Any] | None = None,
) -> RunSummary:
    """Run (or resume) the cases of one or more suites; failing cases are recorded and the run goes on.

    ``executor="local"`` with ``jobs=1`` runs in this process, suite after suite; otherwise the cases of all the
    suites that still need work are handed to the executor at once (:mod:`bench.executors`; ``executor_options``
    are its CLI options, e.g. ``{"address": ...}`` or ``{"slurm_partition": ...}``) and statuses are read back
    from ``results``. One pool for several suites keeps every worker busy where one suite alone cannot: a
    one-seed suite is mostly one chain of stages (base → learn → shrink → expand), which runs on one worker
    while the others wait.
    """
    from bench.executors.threads import wait_policy

    if not suite_paths:
        raise BenchError("bench run: expected at least one suite file")
    with wait_policy():  # before torch loads (load_suite loads it): OpenMP reads it once; workers inherit it
        return _run_suites(suite_paths, profile=profile, results=results, device=device, only=only, force=force,
                           retry_failed=retry_failed, dry_run=dry_run, data_path=data_path, jobs=jobs,
                           progress=progress, executor=executor, executor_options=executor_options)


def _run_suites(
    suite_paths: Sequence[Path], *, profile: str, results: Path, device: str, only: Sequence[str], force: bool,
    retry_failed: bool, dry_run: bool, data_path: Path | None, jobs: int, progress: bool, executor: str,
    executor_options: dict[str, Any] | None,
) -> RunSummary:
    from bench.executors import JobOptions, case_outcome, get_executor, needs_run
    from bench.executors.threads import case_threads
    from bench.pipeline import RunOptions, StageEvent, case_status, plan_case, run_case

    suites = [load_suite(path, profile=profile, data_path=data_path) for path in suite_paths]
    expanded = [suite.cases() for suite in suites]
    cases = _select(suites, expanded, only)
    import torch  # here, not at the top: `bench report` must work without loading torch

    if device == "cuda" and executor == "local" and not torch.cuda.is_available():  # ray/slurm: the workers' GPUs
        raise BenchError("--device cuda: no CUDA device is visible (torch.cuda.is_available() is False)")
    if jobs < 1:
        raise BenchError(f"--jobs: expected at least 1, got {jobs}")
    runner = get_executor(executor, jobs=jobs, progress=progress, **(executor_options or {}))
    if dry_run:
        for case in cases:
            stages = " → ".join(s.label for s in plan_case(case))
            print(f"{case.id}  {case_status(results, case):8s}  {case.label}  [{stages}]")
        return RunSummary({c.id: "ok" for c in cases})
    if executor != "local" or jobs != 1:
        todo = [c for c in cases if needs_run(results, c, force=force, retry_failed=retry_failed)]
        if todo:
            runner.submit([c.to_dict() for c in todo], results, JobOptions(device, force, retry_failed))
        return RunSummary({c.id: case_outcome(results, c) for c in cases})
    statuses: dict[str, str] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, disable=not (progress and is_terminal())) as bar:  # else: plain lines
        for suite, suite_cases in zip(suites, expanded):
            ids = {c.id for c in suite_cases}
            mine = [c for c in cases if c.id in ids and c.id not in statuses]
            task = bar.add_task(f"{suite.name} ({profile})", total=len(mine))

            def on_stage(event: StageEvent, name: str = suite.name, task: Any = task) -> None:
                bar.update(task, description=f"{name}: {event.case.label} {event.stage.label} [{event.status}]")
                print_stage(event)

            options = RunOptions(device=device, force=force, retry_failed=retry_failed, progress=progress,
                                 on_stage=on_stage)
            for case in mine:
                with case_threads(measure=lambda: needs_run(results, case, force=force, retry_failed=retry_failed)):
                    statuses[case.id] = run_case(case, results, options)
                bar.advance(task)
    return RunSummary(statuses)


def list_cases(suite_path: Path, *, profile: str = "quick", results: Path = DEFAULT_RESULTS,
               data_path: Path | None = None) -> list[dict[str, str]]:
    from bench.pipeline import case_status, plan_case

    suite = load_suite(suite_path, profile=profile, data_path=data_path)
    return [{"id": c.id, "label": c.label, "status": case_status(results, c),
             "stages": " → ".join(s.label for s in plan_case(c))} for c in suite.cases()]


def case_records(case_id: str, results: Path = DEFAULT_RESULTS) -> list[dict[str, Any]]:
    """The stored records of one case (by id or unique id prefix)."""
    from bench.store import try_read_record

    if not results.is_dir():
        raise BenchError(f"{results}: expected a results folder (run `bench run SUITE` first)")
    folders = [p for p in results.iterdir() if p.is_dir() and p.name.startswith(case_id) and not p.name.startswith(".")]
    if len(folders) != 1:
        found = "no case" if not folders else f"{len(folders)} cases"
        raise BenchError(f"{results}: case id '{case_id}': expected one case, found {found}")
    records = [r.to_dict() for r in map(try_read_record, sorted(folders[0].glob("*.json"))) if r is not None]
    if not records:
        raise BenchError(f"{folders[0]}: no readable records")
    return records


def final_record(records: Sequence[dict[str, Any]], stage: str | None = None) -> dict[str, Any]:
    """The record of ``stage`` (``expand-it2`` style) or the last finished model stage of a case."""
    from bench.store.records import STAGE_ORDER, stage_label

    ok = [r for r in records if r["status"] == "ok" and r["stage"] != "learn"]
    if stage is not None:
        ok = [r for r in ok if stage_label(r["stage"], r["iteration"]) == stage]
    if not ok:
        raise BenchError(f"no finished stage{' ' + stage if stage else ''} in this case's records")
    return max(ok, key=lambda r: (r["iteration"] or 0, STAGE_ORDER.get(r["stage"], 9)))


def load_model(case_id: str, results: str | Path = DEFAULT_RESULTS, stage: str | None = None) -> nn.Module:
    """The trained model of a case's final (or given) stage, rebuilt at its widths with its weights:
    ``from bench import load_model; model = load_model("3f2a9c")``."""
    from bench.methods.products import REMOVED
    from bench.pipeline.context import CaseContext
    from bench.store import load_checkpoint, stage_cache
    from bench.suite import CaseConfig

    results = Path(results)
    record = final_record(case_records(case_id, results), stage)
    config = CaseConfig.model_validate(record["config"])
    case = Case.create(record["suite"], config, record["seed"])
    ckpt = load_checkpoint(stage_cache(results), record["extra"]["stage_key"])
    model = CaseContext(case, progress=False).model_at(ckpt.widths, remove=record["extra"].get(REMOVED, ()))
    model.load_state_dict(ckpt.state_dict)
    return model.eval()


def export_onnx(case_id: str, out: Path | None, results: Path = DEFAULT_RESULTS, stage: str | None = None,
                input_size: tuple[int, int] | None = None) -> Path:
    """Write the case's final model as ONNX (and its widths as JSON next to it)."""
    import torch

    record = final_record(case_records(case_id, results), stage)
    model = load_model(case_id, results, stage)
    c = next(p for p in model.parameters() if p.dim() == 4).shape[1]
    h, w = input_size or _record_input_size(record)
    out = out or Path(f"{record['case_id']}-{record['stage']}.onnx")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise BenchError("export needs onnx: pip install 'morph-bench[onnx]'") from None
    torch.onnx.export(model, (torch.zeros(1, c, h, w),), str(out), input_names=["image"], output_names=["logits"],
                      dynamo=False)
    out.with_suffix(".widths.json").write_text(json.dumps(record["widths"], indent=1) + "\n")
    return out


def _record_input_size(record: dict[str, Any]) -> tuple[int, int]:
    lat = next(iter(record.get("latency", {}).values()), None)
    if lat and "input_shape" in lat:
        return tuple(lat["input_shape"][-2:])  # type: ignore[return-value]
    size = record["config"]["data"].get("size", 128)
    return (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[return-value]


def describe_model(spec: str, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Params, MACs/FLOPs and channel-group widths of any model the harness can build."""
    import torch

    from bench.measure import count_macs, count_params
    from bench.model_spec import build_model, parse_model_spec
    from morph import build_graph, group_widths

    name, kwargs = parse_model_spec(spec)
    kwargs.setdefault("in_channels", input_shape[0])
    model = build_model(name, kwargs)
    try:
        count = count_macs(model, (1, *input_shape))
        widths = group_widths(build_graph(model, torch.zeros(1, *input_shape)))
    except RuntimeError as exc:  # e.g. an input too small for the net's poolings
        raise BenchError(f"model '{spec}' cannot run on --input {'x'.join(map(str, input_shape))}: "
                         f"{str(exc).strip().splitlines()[0]}") from None
    return {"model": spec, "input": list(input_shape), "params": count_params(model), "macs": int(count.macs),
            "flops": int(count.flops), "conv_macs": int(count.conv_macs), "fvcore_skipped": list(count.skipped),
            "widths": widths}


def validate_suite(suite_path: Path, profile: str = "quick", data_path: Path | None = None) -> Suite:
    return load_suite(suite_path, profile=profile, data_path=data_path)


#: Where ``write_report`` keeps the records behind a reports folder.
RECORDS = "records"


def _load_nonempty(results: Sequence[Path]) -> Any:
    from bench.store import load_results

    df = load_results(list(results))
    if df.empty:
        raise BenchError(f"{', '.join(map(str, results))}: no records found (run `bench run SUITE` first)")
    return df


def report_text(results: Sequence[Path]) -> str:
    """Every suite's report as markdown, without figures (what ``bench report`` prints without ``--out``)."""
    from bench.report.render import reports_text

    return reports_text(_load_nonempty(results))


def write_report(results: Sequence[Path], out: Path, extra_sections: dict[str, str] | None = None) -> list[Path]:
    """``out/<suite>.md`` per suite with PNGs under ``out/figures/``, ``out/index.md``, and the records behind them
    as ``out/records/<suite>.jsonl``; returns the files written. ``extra_sections`` (title → markdown) are
    appended to the index.

    The reports are rendered from ``out/records`` after it is written, so ``bench report out/records --out out``
    gives the same bytes again. A suite's archive is replaced as a whole; other suites' archives already in
    ``out/records`` stay and are rendered too (the folder accumulates suites).
    """
    from bench.report.render import write_reports
    from bench.store import load_records, write_archives

    records = load_records(list(results))
    if not records:
        raise BenchError(f"{', '.join(map(str, results))}: no records found (run `bench run SUITE` first)")
    archives = write_archives(records, out / RECORDS)
    return [*write_reports(_load_nonempty([out / RECORDS]), out, extra_sections), *archives]


def compare_results(a: Path, b: Path) -> str:
    """Markdown comparing two results folders record by record (A, B, B − A, B / A)."""
    from bench.report.render import compare_markdown

    return compare_markdown(_load_nonempty([a]), _load_nonempty([b]), str(a), str(b))
