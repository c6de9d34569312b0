#!/usr/bin/env bash
# The one device check a session with a GPU runs (see the issue notes): the test suite with CUDA visible
# (the CUDA tests run instead of skipping), our latency timer against torch.utils.benchmark and the roofline,
# and the README's quickstart with --device cuda. Writes logs and results under $OUT (default ./gpu-check).
#
# Packages the GPU image lacks travel as wheels in .whl/ (see the device notes); without .whl it uses the
# installed environment.
set -u -o pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, segmentation_models_pytorch, fvcore, torch_pruning, pydantic, typer; print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 1

echo "== tests with CUDA visible"
timeout 240 python3 -m pytest -q -p no:cacheprovider -n 8 -rs tests 2>&1 | tee "$OUT/pytest.log" | tail -25

echo "== latency: ours vs torch.utils.benchmark vs roofline"
timeout 120 python3 benchmarks/gpu_latency_check.py --out "$OUT/latency.json" 2>&1 | grep -v "^W"

echo "== quickstart on cuda"
start=$(date +%s)
timeout 180 python3 -m bench.cli run suites/quickstart.toml --device cuda --results /tmp/gpu-results --no-progress 2>&1 | tail -8
echo "quickstart wall: $(( $(date +%s) - start )) s"
python3 -m bench.cli report /tmp/gpu-results --out /tmp/gpu-results/report 2>&1 | tail -3
cat /tmp/gpu-results/report/quickstart.md 2>/dev/null | head -60
tar czf "$OUT/gpu-results.tgz" --exclude='*.safetensors' -C /tmp gpu-results
