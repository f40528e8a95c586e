#!/usr/bin/env bash
# The main job on the embedded default model: the method (steps 1-3) adds a sound to a benchmark clip.
# Installs into .venv on first use. Extra arguments are passed to the recipe (e.g. --device=cuda).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
exec .venv/bin/python recipes/addition/edit.py hparams/addition.yaml \
    --input_wav=benchmarks/toy_world/addition_00_input.wav \
    --target_prompt="$(.venv/bin/python -c "import json; print(json.load(open('benchmarks/toy_world/manifest.json'))['addition_00']['target_prompt'])")" \
    --output_folder=results/quickstart "$@"
