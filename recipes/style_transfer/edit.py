#!/usr/bin/env python3
"""Style transfer: render the input's events (their onsets and rhythm) as another sound.

Runs the shared editor with this edit type's hparams (on the embedded model: step 1 only, step 3
from the input's DDPM noise maps, the eta with the highest Text-CLAP); the prompt describes the new
sound.

To run (from the repo root)::

    python recipes/style_transfer/edit.py hparams/style_transfer.yaml \\
        --input_wav=benchmarks/toy_world/style_transfer_00_input.wav \\
        --target_prompt="a dog barking"

Authors: the audio_editing developers
"""

from audio_editing.cli import run_cli
from audio_editing.editing.editors import StyleTransferEditor
from audio_editing.recipe import run_edit


if __name__ == "__main__":
    run_cli(lambda argv: run_edit(StyleTransferEditor, argv))
