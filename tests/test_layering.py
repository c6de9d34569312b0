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


def test_reporting_needs_no_torch() -> None:
    """`bench report` works on a copied results folder anywhere: the CLI, store and report never load torch."""
    code = ("import sys, bench.cli, bench.report.render, bench.store.loading;"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_public_api_is_curated_and_loads() -> None:
    import morph

    assert sorted(morph.__all__) == sorted(morph._EXPORTS)
    for name in morph.__all__:
        assert getattr(morph, name) is not None
