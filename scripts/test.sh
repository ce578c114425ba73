#!/usr/bin/env bash
# Runs the whole test suite, setting the machine up first if it is fresh (CI starts from a clean clone).
set -euo pipefail
cd "$(dirname "$0")/.."
KHABAR_EXTRAS=test,cluster bash scripts/setup.sh  # the Ray cluster test runs in CI too
exec .venv/bin/python -m pytest "$@"
