#!/usr/bin/env bash
# Times sgan-gpu and the Keras reference on the same machine, one after the other, so that
# their ratio is measured under the same conditions. Usage, from the repository root:
#   tools/speed_vs_keras.sh [PYTHON] [KERAS_SGAN_PY]
# PYTHON needs TensorFlow (default: python3); KERAS_SGAN_PY defaults to the reference next to
# the repository (../shared/reference/keras_sgan.py). Results go to runs/speed-vs-keras/.
set -euo pipefail
python=${1:-python3}
keras=${2:-../shared/reference/keras_sgan.py}
out=runs/speed-vs-keras
mkdir -p "$out"
export TF_CPP_MIN_LOG_LEVEL=2
cargo build --release --quiet
./target/release/sgan-gpu bench --out "$out/sgan" | tail -4
./target/release/sgan-gpu bench --mode supervised --iterations 50 --out "$out/supervised" \
    | tail -4
"$python" "$keras" --iterations 60 --interval 60 --data data/mnist \
    --json "$out/keras-sgan.json" | tail -1
"$python" "$keras" --mode supervised --iterations 200 --interval 200 --data data/mnist \
    --json "$out/keras-supervised.json" | tail -1
