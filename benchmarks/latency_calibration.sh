#!/usr/bin/env bash
# Issue 14's measurement in one script: calibrate a latency model on this device (`bench calibrate`: the full probe
# grid plus whole-model variants, seed 1), then check it against measured end-to-end latency of other random-width
# variants (`bench latency-check`, seed 0), the roofline side by side. Target on 2 CPU cores: ≤ 20 min together.
# Run it on a quiet machine. Writes the profile, latency.md, the scatter plot, the points, logs and wall times
# under $OUT (default ./latency-calibration). Settings by environment (the script is tested on CPU with tiny ones):
#   DEVICE (cpu)  THREADS (2 on cpu, unset on cuda)  DTYPE (float32)  ROOFLINE (cpu2 on cpu, H200 on cuda)
#   MODELS ("unet:base=16 smp_unet:encoder=resnet18 smp_fpn:encoder=mobilenet_v2")  CAL_VARIANTS (12)
#   CHECK_VARIANTS (17)  ROUNDS (3: timings of each variant, calibration and check, median kept)  SIZES (64,128)
#   BATCHES (1,8)  QUICK (empty; 1: small grid, short timings, one round)
#   BENCH (python3 -m bench.cli)
set -u -o pipefail
OUT=${OUT:-latency-calibration}
DEVICE=${DEVICE:-cpu}
DTYPE=${DTYPE:-float32}
if [ "$DEVICE" = cuda ]; then THREADS=${THREADS:-}; ROOFLINE=${ROOFLINE:-H200}; else THREADS=${THREADS:-2}; ROOFLINE=${ROOFLINE:-cpu2}; fi
MODELS=${MODELS:-"unet:base=16 smp_unet:encoder=resnet18 smp_fpn:encoder=mobilenet_v2"}
CAL_VARIANTS=${CAL_VARIANTS:-12}
CHECK_VARIANTS=${CHECK_VARIANTS:-17}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-64,128}
BATCHES=${BATCHES:-1,8}
BENCH=${BENCH:-python3 -m bench.cli}
mkdir -p "$OUT"
source "$(dirname "$0")/_device_env.sh"
common=(--device "$DEVICE" --dtype "$DTYPE" --sizes "$SIZES" --batches "$BATCHES")
[ -n "$THREADS" ] && common+=(--threads "$THREADS")
[ -n "${QUICK:-}" ] && common+=(--quick)
models=()
for m in $MODELS; do models+=(--model "$m"); done
profile="$OUT/devices/$DEVICE${THREADS}-$DTYPE-calibrated.json"

start=$(date +%s)
$BENCH calibrate "${common[@]}" "${models[@]}" --variants "$CAL_VARIANTS" --rounds "$ROUNDS" --out "$profile" > "$OUT/calibrate.log" 2>&1
rc_cal=$?
mid=$(date +%s)
rc_check=1
if [ "$rc_cal" -eq 0 ]; then
  $BENCH latency-check "${common[@]}" "${models[@]}" --variants "$CHECK_VARIANTS" --rounds "$ROUNDS" \
    --profile "$profile" \
    --roofline "$ROOFLINE" --out "$OUT/report" > "$OUT/check.log" 2>&1
  rc_check=$?
fi
end=$(date +%s)
echo "device=$DEVICE threads=$THREADS dtype=$DTYPE calibrate_exit=$rc_cal calibrate_s=$((mid - start))" \
  "check_exit=$rc_check check_s=$((end - mid))" | tee "$OUT/summary.txt"
tail -15 "$OUT/calibrate.log" | tr '\r' '\n' | tail -15
[ -f "$OUT/report/latency.md" ] && sed -n '/## All variants/,/## Per model/p' "$OUT/report/latency.md"
[ "$rc_cal" -eq 0 ] && [ "$rc_check" -eq 0 ]
