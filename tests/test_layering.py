"""The architecture you can see from the tree: morph knows nothing of the harness or its I/O libraries."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("bench", "pandas", "pydantic", "typer", "matplotlib", "tabulate", "tomllib", "rich")


def test_morph_imports_no_harness_modules() -> None:
    code = (
        "import sys, morph, morph.blog, morph.models;"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"morph imported {out}"
