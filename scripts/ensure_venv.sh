#!/usr/bin/env bash
# Creates .venv in the repo root and installs the toolkit (editable) with its test extras,
# unless an install of the current setup.py is already there. Sourced by quickstart.sh and
# run_tests.sh; safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
STAMP="$VENV/.audio_editing-$(sha1sum "$ROOT/setup.py" | cut -c1-12)"
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV"
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ]; then
    echo "[setup] installing audio_editing and its dependencies into $VENV (a few minutes, once)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
    rm -f "$VENV"/.audio_editing-*
    touch "$STAMP"
fi
