#!/usr/bin/env bash
# One prepared run on a lent GPU machine (device tool): CUDA tests, then the game-stepping
# benchmark on the GPU against Pgx on the same card. Wheels for what the image lacks
# (pgx, gymnasium, tyro) are carried in .wheels/ (pip download --no-deps -d .wheels ...).
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/pp
python3 -m pip install --quiet --no-deps --target /tmp/pp .wheels/*.whl 2>&1 | tail -2
export PYTHONPATH=/tmp/pp:$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi -L
python3 -c "import torch, jax; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'jax', jax.__version__, jax.devices())"
python3 -m pytest -p no:cacheprovider tests/test_devices.py tests/test_vector_env.py 2>&1 | tail -5
python3 benchmarks/games.py --device cuda --batches ${BATCHES:-1024 8192} --seconds ${SECONDS_PER:-2} \
    2>&1 | tee "$OUT/gpu_games.jsonl"
