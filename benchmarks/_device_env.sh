# Sourced by the prepared device scripts: unbuffered output, the wheels a GPU image lacks (from .whl/, see the
# device notes) on PYTHONPATH, and on CUDA the card's name into $OUT/device.txt. Needs OUT and DEVICE set.
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
fi
