#!/usr/bin/env bash
# The blog's scale on one GPU (issue 15): the symmetry suite's `gpu_synthetic` profile (base-64 U-Net, 31,043,521
# params, 600 synthetic 256² scenes, the blog's 30-epoch Adam 1e-4 protocol), then its report. Target: ≤ 10 min.
# Writes the log, the wall time, the rendered report and the records (no weights) under $OUT (default
# ./gpu-full-scale). Settings by environment, so the script itself is tested on CPU with a tiny suite:
#   SUITE (suites/symmetry.toml)  PROFILE (gpu_synthetic)  DEVICE (cuda)  LIMIT_S (600)  BENCH (python3 -m bench.cli)
set -u -o pipefail
OUT=${OUT:-gpu-full-scale}
SUITE=${SUITE:-suites/symmetry.toml}
PROFILE=${PROFILE:-gpu_synthetic}
DEVICE=${DEVICE:-cuda}
LIMIT_S=${LIMIT_S:-600}
BENCH=${BENCH:-python3 -m bench.cli}
RESULTS="$OUT/results"
mkdir -p "$OUT"
source "$(dirname "$0")/_device_env.sh"

start=$(date +%s)
timeout "$LIMIT_S" $BENCH run "$SUITE" --profile "$PROFILE" --device "$DEVICE" --results "$RESULTS" --no-progress \
  > "$OUT/run.log" 2>&1
rc=$?
wall=$(( $(date +%s) - start ))
echo "suite=$SUITE profile=$PROFILE device=$DEVICE exit=$rc wall_s=$wall limit_s=$LIMIT_S" | tee "$OUT/summary.txt"
tail -12 "$OUT/run.log"
$BENCH report "$RESULTS" --out "$OUT/report" > "$OUT/report.log" 2>&1 || cat "$OUT/report.log"
rm -rf "$RESULTS/.stages"   # weights stay on the device machine; records and report come back
[ "$rc" -le 1 ] && [ "$wall" -le "$LIMIT_S" ]
