#!/usr/bin/env bash
# GPU check: full fine-tuning vs READ-64 vs MINION-64 at BERTweet-base size, with and without mixed
# precision, as one table (benchmarks/device_check.py says what and how). It takes under 8 minutes on one
# NVIDIA GPU. On a machine without one, it prints one line and exits 0.
# Python: $PYTHON if set, else .venv made or updated by scripts/install.sh, the README's install (its
# messages go to stderr). On a fresh clone of a machine without an NVIDIA driver, it installs nothing.
# Example: bash benchmarks/device_check.sh --steps 20 --json results/device_check.json
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
  py=$PYTHON
else
  if [ ! -x .venv/bin/python ] && ! command -v nvidia-smi >/dev/null 2>&1 && [ ! -e /proc/driver/nvidia/version ]; then
    echo "device check: nothing measured: no NVIDIA driver (no nvidia-smi, no /proc/driver/nvidia) and no .venv (bash scripts/install.sh makes it)"
    exit 0
  fi
  bash scripts/install.sh >&2
  py=.venv/bin/python
fi
exec "$py" benchmarks/device_check.py "$@"
