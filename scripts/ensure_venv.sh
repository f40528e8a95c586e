#!/usr/bin/env bash
# Creates .venv in the repo root and installs the toolkit (editable) with the extras named in
# AUDIO_EDITING_EXTRAS (default: test), unless an install of the current setup.py with them is
# already there. Sourced by quickstart.sh and run_tests.sh (test,demo); safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
EXTRAS="${AUDIO_EDITING_EXTRAS:-test}"
STAMP_PREFIX="$VENV/.audio_editing-${EXTRAS//,/+}-"
STAMP="$STAMP_PREFIX$(sha1sum "$ROOT/setup.py" | cut -c1-12)"
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV"
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ]; then
    echo "[setup] installing audio_editing[$EXTRAS] and its dependencies into $VENV (a few minutes, once)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[$EXTRAS]"
    rm -f "$STAMP_PREFIX"*
    touch "$STAMP"
fi
