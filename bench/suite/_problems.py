"""Turning everything wrong with a suite file into one line each: ``file: dotted.key: expectation (got x)``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from bench.errors import BenchError
from morph.registry import did_you_mean

Loc = tuple[str | int, ...]

_EXPECT = {
    "float_type": "expected a float", "float_parsing": "expected a float",
    "int_type": "expected an integer", "int_parsing": "expected an integer", "int_from_float": "expected an integer",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "string_type": "expected a string", "list_type": "expected a list", "tuple_type": "expected a list",
    "dict_type": "expected a table", "model_type": "expected a table", "model_attributes_type": "expected a table",
    "missing": "required key is missing", "finite_number": "expected a finite number",
}


class SuiteError(BenchError):
    """Everything wrong with one suite file; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(dict.fromkeys(problems))
        super().__init__("\n".join(self.problems))


def dotted(loc: Iterable[str | int]) -> str:
    """``("matrix", "include", 0, "lr")`` → ``matrix.include[0].lr``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def shown(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def line(file: str, loc: Iterable[str | int], message: str) -> str:
    where = dotted(loc)
    return f"{file}: {where}: {message}" if where else f"{file}: {message}"


def from_validation(
    file: str,
    error: ValidationError,
    model: type[BaseModel] | None = None,
    origin: Callable[[Loc], Loc] = lambda loc: loc,
) -> list[str]:
    """One line per pydantic error; ``origin`` maps a settings location back to where the file set it."""
    lines = []
    for err in error.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "bench_key":
            loc = (*loc, ctx["key"])
        where = origin(loc)
        if err["type"] == "extra_forbidden" and where and isinstance(where[-1], int):
            where = where[:-1]  # an unknown key is wrong in every value of its axis
        lines.append(line(file, where, _expectation(err, loc, model)))
    return lines


def _expectation(err: Any, loc: Loc, model: type[BaseModel] | None) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "bench_key":
        return str(ctx["message"])
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        hint = did_you_mean(str(loc[-1]), known)
        return f"unknown key{hint}" + (f" (known: {', '.join(known)})" if known and not hint else "")
    if kind == "literal_error":
        return f"expected {ctx['expected']} (got {shown(value)})"
    if kind == "value_error":
        return f"{ctx.get('error', err['msg'])}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<", "less_than_equal": "≤"}[kind]
        bound = next(iter(v for k, v in ctx.items() if k in ("gt", "ge", "lt", "le")))
        return f"expected a value {op} {bound} (got {shown(value)})"
    if kind in ("too_short", "too_long"):
        return f"expected {err['msg'][0].lower()}{err['msg'][1:]} (got {shown(value)})"
    if kind == "string_pattern_mismatch":
        return f"expected letters, digits, '_', '.' or '-' (got {shown(value)})"
    if kind == "missing":
        return _EXPECT[kind]
    text = _EXPECT.get(kind, err["msg"][0].lower() + err["msg"][1:])
    return f"{text} (got {shown(value)})"


def _known_keys(model: type[BaseModel] | None, loc: Loc) -> list[str]:
    for part in loc:
        if model is None or isinstance(part, int):
            return []
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return sorted(model.model_fields) if model is not None else []
