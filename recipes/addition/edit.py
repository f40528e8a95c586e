#!/usr/bin/env python3
"""Addition: add a sound to a recording, described by a prompt for the whole new scene.

The default method (``method: imagic``) runs the shared editor's three steps: embedding optimisation,
fine-tuning, interpolated sampling over eta. ``--method=layer`` (``audio_editing/editing/layering.py``) instead
generates the part of the prompt the input lacks and mixes it over the untouched input, one take per gain; on the
embedded model it beats the method on addition. Results of both: ``recipes/addition/README.md``.

To run (from the repo root)::

    python recipes/addition/edit.py hparams/addition.yaml \\
        --input_wav=benchmarks/toy_world/addition_00_input.wav \\
        --target_prompt="a dog barks while a phone rings"

Authors: the audio_editing developers
"""

from audio_editing.cli import run_cli
from audio_editing.editing.editors import AdditionEditor
from audio_editing.recipe import run_edit


if __name__ == "__main__":
    run_cli(lambda argv: run_edit(AdditionEditor, argv))
