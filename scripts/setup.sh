#!/usr/bin/env bash
# Install Arena on a fresh machine: torch (the CPU 2.13.0 wheel when no torch is present,
# so a GPU machine keeps the CUDA build it has), then the project in editable mode.
#   bash scripts/setup.sh        # the package and the `arena` command
#   bash scripts/setup.sh dev    # plus the test tools ([dev] extra)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install --quiet torch==2.13.0
fi
if [ "${1:-}" = "dev" ]; then
    "$PY" -m pip install --quiet -e ".[dev]"
else
    "$PY" -m pip install --quiet -e .
fi
hash -r 2>/dev/null || true
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
