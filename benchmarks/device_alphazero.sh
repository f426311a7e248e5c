#!/usr/bin/env bash
# One prepared run for a lent GPU (device tool) covering what issue 4 asks of a GPU:
#   1. the CUDA tests (tests marked gpu, the device tests, and fast tests whose device is "auto"),
#   2. self-play throughput for Go 9x9, 6x64 ResNet, 32 simulations, B = 1024 and 4096, with the
#      network's own inference ceiling beside it (benchmarks/alphazero.py --part throughput), as
#      is, with the sync-free search, replayed as a CUDA graph, and that in bf16,
#   3. a Go 9x9 AlphaZero run of $TRAIN_SECONDS on the GPU whose run folder comes back in $OUT
#      (evaluate it here against GNU Go: arena match gnugo:1 ... / arena train go --resume).
# Carry the wheels the image lacks in .wheels/ (see benchmarks/device_check.sh), then:
#   device run: bash benchmarks/device_alphazero.sh      (timeout ~560 s; TRAIN_SECONDS=200 default)
# Try it on the CPU first: DEVICE=cpu BATCHES="4 8" TRAIN_SECONDS=10 GAMES=8 EVAL_GAMES=2 OUT=/tmp/out bash benchmarks/device_alphazero.sh
set -u
OUT=${OUT:-/tmp/out}
DEVICE=${DEVICE:-cuda}
BATCHES=${BATCHES:-1024 4096}
TRAIN_SECONDS=${TRAIN_SECONDS:-200}
GAMES=${GAMES:-1024}
EVAL_GAMES=${EVAL_GAMES:-10}  # per match; evaluation time is device time too
mkdir -p "$OUT" /tmp/pp
if ls .wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install --quiet --no-deps --target /tmp/pp .wheels/*.whl 2>&1 | tail -2
fi
export PYTHONPATH=/tmp/pp:$PWD
command -v nvidia-smi >/dev/null && nvidia-smi -L
PARTS=${PARTS:-tests throughput train}  # device time is short: e.g. PARTS="tests throughput", then PARTS=train
if [[ " $PARTS " == *" tests "* ]]; then
echo "== tests"
timeout 150 python3 -m pytest -q -p no:cacheprovider -m "gpu or not slow" tests/test_devices.py tests/test_cuda_paths.py \
    tests/test_mcts.py tests/test_mcts_games.py tests/test_supervised.py tests/test_alphazero.py \
    2>&1 | tail -3
fi
if [[ " $PARTS " == *" throughput "* ]]; then
echo "== throughput"
# the default search, without host syncs, replayed as a CUDA graph, and that in bf16 (a file each)
for variant in default sync-free cuda-graph cuda-graph-bf16; do
    case $variant in default) flags="" ;; sync-free) flags="--sync-free" ;; cuda-graph) flags="--cuda-graph" ;;
        *) flags="--cuda-graph --bf16" ;; esac
    # shellcheck disable=SC2086
    timeout 100 python3 benchmarks/alphazero.py --part throughput --games go9 --device "$DEVICE" --batches $BATCHES \
        --blocks 6 --channels 64 --simulations 32 --steps 3 $flags \
        > "$OUT/az_throughput_$variant.jsonl" 2> "$OUT/az_throughput_$variant.err"
    cut -c1-300 "$OUT/az_throughput_$variant.jsonl"; tail -3 "$OUT/az_throughput_$variant.err"
done
fi
if [[ " $PARTS " == *" train "* ]]; then
echo "== train go 9x9 for $TRAIN_SECONDS s"
timeout $((TRAIN_SECONDS + 150)) python3 -m arena.cli train go --size 9 --device "$DEVICE" --seconds "$TRAIN_SECONDS" \
    --eval-every $((TRAIN_SECONDS / 2 + 1)) --eval-games "$EVAL_GAMES" --play-simulations 32 --games "$GAMES" --blocks 6 --channels 64 \
    --run-dir "$OUT/go9" > "$OUT/train.log" 2>&1
tail -c 600 "$OUT/train.log"; echo
rm -rf "$OUT/go9/tb"  # keep what comes back small: config, metrics, plots, checkpoints, replays
ls -la "$OUT/go9/checkpoints" 2>&1 | tail -4
fi
