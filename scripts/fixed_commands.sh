#!/usr/bin/env bash
# The fixed command set of a pure refactor: each recipe's default on a benchmark clip, a baseline and the layer.
# Run it before and after a change, then compare the wavs bit for bit:
#   bash scripts/fixed_commands.sh /tmp/fixed_before
#   bash scripts/fixed_commands.sh /tmp/fixed_after
#   bash scripts/fixed_commands.sh --compare /tmp/fixed_before /tmp/fixed_after
# Commands run one at a time (each takes a minute or two on a CPU). The package is imported from the tree this
# script sits in (PYTHONPATH), so a copy of the tree runs its own code: PYTHON=/work/main/.venv/bin/python bash
# /tmp/copy/scripts/fixed_commands.sh /tmp/fixed_before keeps "before" fixed while the work tree changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD"

if [ "${1:-}" = "--compare" ]; then
    before=$2 after=$3 differ=0 n=0
    while IFS= read -r rel; do
        n=$((n + 1))
        if [ ! -f "$after/$rel" ]; then echo "missing after: $rel"; differ=1
        elif ! cmp -s "$before/$rel" "$after/$rel"; then echo "differs: $rel"; differ=1; fi
    done < <(cd "$before" && find . -name '*.wav' | sort)
    extra=$(comm -13 <(cd "$before" && find . -name '*.wav' | sort) <(cd "$after" && find . -name '*.wav' | sort))
    [ -n "$extra" ] && { echo "only after: $extra"; differ=1; }
    [ "$differ" = 0 ] && echo "all $n wavs bit-identical" || { echo "outputs differ"; exit 1; }
    exit 0
fi

out=${1:?usage: fixed_commands.sh <out_folder> | --compare <before> <after>}
field() { "$PY" -c "import json,sys;print(json.load(open('benchmarks/toy_world/manifest.json'))[sys.argv[1]][sys.argv[2]])" "$1" "$2"; }
clip() { echo "--input_wav=benchmarks/toy_world/$1_input.wav"; }

"$PY" recipes/style_transfer/edit.py hparams/style_transfer.yaml "$(clip style_transfer_00)" \
    --target_prompt="$(field style_transfer_00 target_prompt)" --output_folder="$out/st"
"$PY" recipes/inpainting/edit.py hparams/inpainting.yaml "$(clip inpainting_00)" \
    --target_prompt="$(field inpainting_00 target_prompt)" \
    --mask_start="$(field inpainting_00 mask_start)" --mask_end="$(field inpainting_00 mask_end)" \
    --output_folder="$out/inp"
"$PY" recipes/addition/edit.py hparams/addition.yaml "$(clip addition_00)" --method=imagic \
    --target_prompt="$(field addition_00 target_prompt)" --output_folder="$out/add_imagic"
"$PY" recipes/addition/edit.py hparams/addition.yaml "$(clip addition_00)" --method=sdedit \
    --target_prompt="$(field addition_00 target_prompt)" --output_folder="$out/add_sdedit"
"$PY" recipes/addition/edit.py hparams/addition.yaml "$(clip addition_00)" --method=layer \
    --target_prompt="$(field addition_00 target_prompt)" --output_folder="$out/add_layer"
"$PY" recipes/removal/edit.py hparams/removal.yaml "$(clip removal_00)" \
    --target_prompt="$(field removal_00 target_prompt)" --output_folder="$out/rem"
