#!/usr/bin/env bash
# The test suite (unit, integration, recipes, web demo, doctests) on tiny models and the shipped
# embedded model; no downloads. Installs into .venv on first use (with the demo extra). The
# demo's browser tests need chromium and chromedriver (.ci/run installs them) and skip without.
# One worker per core (pytest-xdist; a module's tests stay together, so its fixtures are built once).
# Extra arguments go to pytest: -m "not slow" is the fast tier, -n 0 runs in this process alone.
set -euo pipefail
cd "$(dirname "$0")"
AUDIO_EDITING_EXTRAS=test,demo source scripts/ensure_venv.sh
# PASSIVE: idle OpenMP threads sleep instead of spinning, so a test's subprocess does not crawl
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE
exec .venv/bin/python -m pytest tests --doctest-modules audio_editing -q -n auto --dist loadscope "$@"
