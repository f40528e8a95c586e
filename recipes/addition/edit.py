#!/usr/bin/env python3
"""Addition: add a sound to a recording, described by a prompt for the whole new scene.

Runs the three steps of the shared editor (embedding optimisation, fine-tuning,
interpolated sampling over eta) and keeps the eta with the best Text-CLAP + Audio-CLAP.

To run (from the repo root)::

    python recipes/addition/edit.py hparams/addition.yaml \\
        --input_wav=benchmarks/toy_world/addition_00_input.wav \\
        --target_prompt="a dog barks while a phone rings"

Authors: the audio_editing developers
"""

from audio_editing.cli import run_cli
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.editing.recipe import run_edit


class AdditionEditor(ImagicEditor):
    """Addition needs nothing beyond the shared editor: the prompt carries the whole scene."""

    edit_type = "addition"

if __name__ == "__main__":
    run_cli(lambda argv: run_edit(AdditionEditor, argv))
