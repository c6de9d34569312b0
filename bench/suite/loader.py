"""Reading a suite file: TOML → profile merge → matrix → data path → one validated :class:`Case` per seed.

Data folders (for data sets whose builder takes a ``path``) are found in this order:
1. ``data_path`` (the ``--data-path`` option);
2. the environment variable named by ``data.path_env``, else ``MORPH_BENCH_DATA_<NAME>`` (the data set name in
   upper case, other characters as ``_``: ``inria_vienna`` → ``MORPH_BENCH_DATA_INRIA_VIENNA``);
3. ``data.path`` in the file, relative to the suite file's folder.
The folder must exist. It is stored absolute in the case but left out of the case id.

Profiles: ``[profiles.<name>]`` tables are deep-merged over the top level (tables merge, lists and values
replace). ``quick`` is the default; ``quick`` and ``full`` fall back to the top level when the file does not
define them, any other name must be defined. An ``exclude`` entry must match some combination of the matrix it
was written for (the top level's, or the merged one for a profile's own ``exclude``). Identical cases are run once.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.suite import _registries as reg
from bench.suite._matrix import Expanded, Matrix, expand, parse_matrix, unmatched_excludes
from bench.suite._problems import Loc, SuiteError, from_validation, line
from bench.suite.case import Case, Suite
from bench.suite.schema import SECTIONS, CaseConfig, SuiteFile

DEFAULT_PROFILES = ("quick", "full")


def load_suite(
    path: str | Path, profile: str = "quick", data_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Suite:
    """Load, validate and expand a suite file.

    Args:
        profile: which ``[profiles.<name>]`` override to apply.
        data_path: the data folder from the command line; beats the environment and the file.
        environ: the environment to read data paths from (default ``os.environ``).

    Raises:
        SuiteError: with one line per problem (syntax, unknown key, wrong type, unknown name, exclude matching
            nothing, missing data folder).
    """
    path = Path(path)
    file = str(path)
    raw = _read_toml(path)
    try:
        top = SuiteFile.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(from_validation(file, exc, SuiteFile)) from None
    if profile not in top.profiles and profile not in DEFAULT_PROFILES:
        known = ", ".join(sorted(top.profiles)) or "none"
        raise SuiteError([line(file, ("profiles", profile), f"profile not defined (known: {known})")])
    over: dict[str, Any] = raw.get("profiles", {}).get(profile, {})
    merged = _deep_merge({k: v for k, v in raw.items() if k != "profiles"}, over)

    problems: list[str] = []
    matrix = parse_matrix(merged.get("matrix", {}))
    _check_matrix(file, raw, over, profile, matrix, problems)
    cases: dict[str, Case] = {}
    sections = {k: merged.get(k, {}) for k in SECTIONS if k in merged}
    for combo in expand(matrix) if not problems else []:
        settings = copy.deepcopy(sections)
        for key, value in combo.values.items():
            _set(settings, key, copy.deepcopy(value))
        origin = _origin_fn(combo, over, profile, matrix_loc=_matrix_prefix(over, profile))
        _resolve_data_path(file, path, settings, data_path, environ, origin, problems)
        try:
            config = CaseConfig.model_validate(settings)
        except ValidationError as exc:
            problems += from_validation(file, exc, CaseConfig, origin)
            continue
        for seed in merged.get("seeds", [0]):
            case = Case.create(top.name, config, seed, combo.values, profile)
            cases.setdefault(case.id, case)
    if problems:
        raise SuiteError(problems)
    description = merged.get("description") or ""
    return Suite(top.name, description, path, profile, tuple(cases.values()), tuple(matrix.axes))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SuiteError([f"{path}: expected an existing suite file"]) from None
    except IsADirectoryError:
        raise SuiteError([f"{path}: expected a suite file, got a folder"]) from None
    except OSError as exc:
        raise SuiteError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError as exc:
        raise SuiteError([f"{path}: byte {exc.start}: expected UTF-8 text (TOML), got {exc.object[exc.start:exc.start + 4]!r}"]) from None
    except RecursionError:
        raise SuiteError([f"{path}: arrays or tables nested too deeply to read"]) from None
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", text)
        where = f"line {m.group(1)}, column {m.group(2)}: " if m else ""
        reason = text[: m.start()].strip() if m else text
        raise SuiteError([f"{path}: {where}invalid TOML: {reason}"]) from None


def _check_matrix(
    file: str, raw: Mapping[str, Any], over: Mapping[str, Any], profile: str, matrix: Matrix, problems: list[str]
) -> None:
    prefix = _matrix_prefix(over, profile)
    for loc, message in matrix.problems:
        problems.append(line(file, (*prefix, *loc), message))
    for key in matrix.axes:
        parts = key.split(".")
        if parts[0] not in SECTIONS:
            problems.append(line(file, (*prefix, key), f"expected a setting under {', '.join(SECTIONS)}"
                                 + ("; use seeds = [...] for seeds" if parts[0] in ("seed", "seeds") else "")))
    own = "exclude" in over.get("matrix", {})
    written_for = matrix if own else parse_matrix(raw.get("matrix", {}))
    ex_prefix = ("profiles", profile, "matrix") if own else ("matrix",)
    if not written_for.problems:
        for i in unmatched_excludes(written_for):
            problems.append(line(file, (*ex_prefix, "exclude", i), "matches no combination of the matrix"))
    if matrix.axes and not matrix.problems and not any(combo.values for combo in expand(matrix)):
        problems.append(line(file, (*prefix, "exclude"), "removes every combination of the matrix (no case left)"))


def _matrix_prefix(over: Mapping[str, Any], profile: str) -> Loc:
    return ("profiles", profile, "matrix") if "matrix" in over else ("matrix",)


def _origin_fn(combo: Expanded, over: Mapping[str, Any], profile: str, matrix_loc: Loc) -> Any:
    """Map a settings location to where the file set it: a matrix value, the profile, or the top level."""

    def origin(loc: Loc) -> Loc:
        parts = [str(p) for p in loc]
        for key, source in combo.origin.items():
            n = key.count(".") + 1
            if parts[:n] == key.split("."):
                return (*matrix_loc, *source, *loc[n:])
        node: Any = over
        for part in loc:
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return loc
        return ("profiles", profile, *loc)

    return origin


def _resolve_data_path(
    file: str, suite_path: Path, settings: dict[str, Any], data_path: str | Path | None,
    environ: Mapping[str, str] | None, origin: Any, problems: list[str],
) -> None:
    data = settings.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return
    name = data["name"]
    try:
        if name not in reg.dataset_names() or not reg.dataset_needs_path(name):
            return
    except ImportError:
        return
    env = os.environ if environ is None else environ
    var = data.get("path_env") if isinstance(data.get("path_env"), str) else dataset_env_var(name)
    if data_path is not None:
        chosen, source = Path(data_path), "--data-path"
    elif env.get(var):
        chosen, source = Path(env[var]), var
    elif isinstance(data.get("path"), str):
        chosen, source = suite_path.parent / data["path"], "data.path"
    else:
        problems.append(line(file, origin(("data", "path")),
                             f"data set '{name}' needs a folder: pass --data-path, set {var} or set data.path"))
        return
    if not chosen.is_dir():
        problems.append(line(file, origin(("data", "path")), f"expected an existing folder (got \"{chosen}\" from {source})"))
        return
    data["path"] = str(chosen.resolve())


def dataset_env_var(name: str) -> str:
    """The environment variable that holds a data set's folder: ``MORPH_BENCH_DATA_<NAME>``."""
    return "MORPH_BENCH_DATA_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge and lists replace; a table that names a different ``name`` (another data set or model)
    replaces the base table whole, since the other builder's keyword arguments would not fit it."""
    out = dict(base)
    for key, value in over.items():
        renamed = isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and \
            "name" in value and value["name"] != out[key].get("name")
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and not renamed:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set(settings: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = settings
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value
