#!/usr/bin/env python3
"""Inpainting: fill a blank span of a recording with the sound a prompt describes.

The span is given in seconds (--mask_start, --mask_end) or found as the longest run of digital silence;
every sample outside it stays bit-identical to the input. How the editor fits and fills the span, and what
``free_eta0_check`` reports: ``InpaintingEditor`` in ``audio_editing/editing/editors.py``.

To run (from the repo root)::

    python recipes/inpainting/edit.py hparams/inpainting.yaml \\
        --input_wav=benchmarks/toy_world/inpainting_00_input.wav \\
        --target_prompt="a door knock"

Authors: the audio_editing developers
"""

from audio_editing.cli import run_cli
from audio_editing.editing.editors import InpaintingEditor
from audio_editing.recipe import run_edit


if __name__ == "__main__":
    run_cli(lambda argv: run_edit(InpaintingEditor, argv))
