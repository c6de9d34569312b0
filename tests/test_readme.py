"""The README's library example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_runs() -> None:
    text = README.read_text()
    block = re.search(r"```python\n(import torch\nfrom morph import.*?)```", text, re.S)
    assert block, "README lost its morph example"
    scope: dict[str, object] = {}
    exec(compile(block.group(1), str(README), "exec"), scope)  # noqa: S102
    new_model = scope["new_model"]
    found = scope["found"]
    assert found.cost <= found.budget
    assert new_model.widths == {k: found.widths[k] for k in new_model.widths}


def test_quickstart_matches_ci() -> None:
    text = README.read_text()
    commands = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert len(commands) == 2
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci
