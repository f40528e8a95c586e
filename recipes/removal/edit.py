#!/usr/bin/env python3
"""Removal: take one sound out of a recording, described by a prompt for the whole new scene.

Runs the shared editor's three steps with this edit type's hparams (on the embedded model: step 1 only,
step 3 from the input's DDPM noise maps, so eta=0 gives the input back and the events that stay keep their
onsets while eta moves the scene towards the prompt). The prompt describes the scene without the removed
sound: input "a dog barks while rain falls", target "rain falls". Results: ``recipes/removal/README.md``.

To run (from the repo root)::

    python recipes/removal/edit.py hparams/removal.yaml \\
        --input_wav=benchmarks/toy_world/removal_00_input.wav \\
        --target_prompt="the sound of engine hum"

Authors: the audio_editing developers
"""

from audio_editing.cli import run_cli
from audio_editing.editing.editors import RemovalEditor
from audio_editing.recipe import run_edit


if __name__ == "__main__":
    run_cli(lambda argv: run_edit(RemovalEditor, argv))
