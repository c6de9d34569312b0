#!/usr/bin/env bash
# Issue 16's GPU check: training throughput per setting with the GPU's utilisation (benchmarks/gpu_speed.py),
# then the wall time of a suite (default: the README's quickstart) on each device in DEVICES. Writes
# speed-<device>.json, quickstart-<device>.log and summary.md under $OUT (default ./gpu-speed).
#
#   bash benchmarks/gpu_speed.sh                                    # cuda variants, quickstart on cuda and on 2 CPU cores
#   DEVICES=cpu TINY=1 SUITE=tiny.toml bash benchmarks/gpu_speed.sh # seconds on a CPU (tests/bench/test_gpu_speed.py)
#
# CPU_CORES (default 0,1) pins the CPU quickstart to two cores with taskset, as the 2-core machine the issue
# compares with; VARIANTS limits gpu_speed.py's variants; PYTHON picks the interpreter (default python3).
# Expected time on an H200 box: the cuda variants 1–3 min (compile is the slow one), the quickstart on cuda about
# a minute, on two CPU cores 3–4 min: with little device time left, run DEVICES=cuda alone first.
set -u -o pipefail
OUT=${OUT:-gpu-speed}
DEVICES=${DEVICES:-cuda cpu}
SUITE=${SUITE:-suites/quickstart.toml}
CPU_CORES=${CPU_CORES:-0,1}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then  # packages the GPU image lacks (see the device notes)
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
tiny=()
[ -n "${TINY:-}" ] && tiny=(--tiny)
variants=()
[ -n "${VARIANTS:-}" ] && { IFS=';' read -r -a variants <<< "$VARIANTS"; variants=(--variants "${variants[@]}"); }
summary="$OUT/summary.md"
echo "# gpu_speed $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null)" > "$summary"
status=0
for device in $DEVICES; do
  speed_device=$device
  if [ "$device" = cuda ] || [ -n "${TINY:-}" ]; then
    echo "== training throughput on $device" | tee -a "$summary"
    timeout 400 $PYTHON benchmarks/gpu_speed.py --device "$speed_device" "${tiny[@]}" "${variants[@]}" \
      --out "$OUT/speed-$device.json" 2>&1 | grep -v "^W" | tee -a "$summary" || status=1
  fi
  pin=()
  if [ "$device" = cpu ] && command -v taskset >/dev/null && [ -z "${TINY:-}" ]; then pin=(taskset -c "$CPU_CORES"); fi
  echo "== $SUITE on $device ${pin[*]}" | tee -a "$summary"
  results=$(mktemp -d)
  start=$($PYTHON -c "import time; print(time.time())")
  "${pin[@]}" timeout 500 $PYTHON -m bench.cli run "$SUITE" --device "$device" --results "$results" --no-progress \
    > "$OUT/quickstart-$device.log" 2>&1 || status=1
  wall=$($PYTHON -c "import time; print(f'{time.time() - $start:.1f}')")
  echo "suite wall on $device: $wall s" | tee -a "$summary"
  tail -3 "$OUT/quickstart-$device.log"
  rm -rf "$results"
done
exit $status
