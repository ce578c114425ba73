#!/usr/bin/env bash
# Installs torch's CPU build: from PyTorch's own CPU wheel index (its documented CPU install,
# https://pytorch.org/get-started/locally/), so an ordinary Linux box does not pull the
# multi-GB CUDA build from PyPI. Where that index cannot be reached (an offline machine with a
# mirror, a proxy that only lets PyPI through), it says so and falls back, quickly, to the
# package index pip is configured with.
#   bash scripts/install_torch.sh PYTHON VERSION     (scripts/setup.sh runs it)
# TORCH_CPU_INDEX overrides the CPU index; TORCH_INDEX_TIMEOUT (seconds, default 10) bounds each
# network wait of the first try, which is never retried.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bash scripts/install_torch.sh PYTHON VERSION (e.g. .venv/bin/python 2.13.0)" >&2
  exit 2
fi
PY=$1
VERSION=$2
INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
TIMEOUT=${TORCH_INDEX_TIMEOUT:-10}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "==> installing torch $VERSION (CPU build) from $INDEX"
if "$PY" -m pip install --quiet --index-url "$INDEX" --timeout "$TIMEOUT" --retries 0 "torch==$VERSION" \
    >"$log" 2>&1; then
  exit 0
fi
why=$(grep -E "ERROR|Error|error" "$log" | tail -n 1 || true)
echo "==> fell back: $INDEX could not be reached or has no torch $VERSION (${why:-pip failed});" \
     "installing torch $VERSION from the configured package index instead"
if ! "$PY" -m pip install --quiet "torch==$VERSION"; then
  echo "torch $VERSION could not be installed from $INDEX nor from the configured index." \
       "Check the network or pip's index settings (pip config list), then run scripts/setup.sh again." >&2
  exit 1
fi
if [ "$("$PY" -c 'import torch; print(torch.version.cuda is not None)' 2>/dev/null)" = "True" ]; then
  echo "==> note: the configured index gave torch's CUDA build (several GB; Khabar needs only the CPU" \
       "build). To replace it: $PY -m pip install --force-reinstall --index-url $INDEX torch==$VERSION"
fi
