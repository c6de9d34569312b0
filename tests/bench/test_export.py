"""`bench export`: the compressed model as ONNX, checked by running it in onnxruntime (an independent runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench import load_model
from bench.cli import app
from bench.store import load_results

onnx = pytest.importorskip("onnx", reason="export is an optional extra: pip install 'morph-bench[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the check runs the export in onnxruntime (test extra)")
runner = CliRunner()


def test_export_matches_the_torch_model_in_onnxruntime(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    ran = runner.invoke(app, ["run", str(tiny_suite), "--results", str(results), "--no-progress",
                              "--only", "method=morphnet,sym=0,seed=0"])
    assert ran.exit_code == 0, ran.output
    df = load_results(results)
    case = df["case_id"].iloc[0]
    expanded = df[df["stage"] == "expand"].iloc[0]
    out = tmp_path / "model.onnx"
    done = runner.invoke(app, ["export", case, "--results", str(results), "--out", str(out)])
    assert done.exit_code == 0, done.output
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert json.loads(out.with_suffix(".widths.json").read_text()) == expanded["widths"]
    # the graph's conv kernels are the compressed model's (the widths decide them)
    kernels = sorted(tuple(init.dims) for init in model.graph.initializer if len(init.dims) == 4)
    torch_model = load_model(case, str(results)).eval()
    assert kernels == sorted(tuple(p.shape) for p in torch_model.parameters() if p.dim() == 4)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = torch_model(x).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
