#!/usr/bin/env bash
# One prepared run on a lent GPU machine (device tool): the CUDA tests, then the game-stepping
# benchmark on the GPU: ours eager, ours as a CUDA graph, and Pgx on the same card, in one run.
# Wheels for what the machine's image lacks are carried in .wheels/:
#   pip download --no-deps -d .wheels pgx svgwrite gymnasium farama-notifications tyro docstring-parser typeguard
# then call the device tool with carry [".wheels"] and command `bash benchmarks/device_check.sh`.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/pp
python3 -m pip install --quiet --no-deps --target /tmp/pp .wheels/*.whl 2>&1 | tail -2
export PYTHONPATH=/tmp/pp:$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi -L
python3 -m pytest -p no:cacheprovider tests/test_devices.py tests/test_vector_env.py 2>&1 | tail -2
python3 benchmarks/games.py --device cuda --batches ${BATCHES:-1024 8192} --seconds 2 --no-latency \
    > "$OUT/gpu_games.jsonl" 2>&1
grep -h steps_per_s "$OUT/gpu_games.jsonl" | cut -c1-220
