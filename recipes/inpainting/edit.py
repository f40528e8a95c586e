#!/usr/bin/env python3
"""Inpainting: fill a blank span of a recording with the sound a prompt describes.

The span is given in seconds (--mask_start, --mask_end) or found as the longest run
of digital silence. Steps 1-2 fit only the observed audio (the loss ignores the
span); step 3 generates the span while the observed latent frames are held to the
input's (noised to each step's level); the output keeps every sample outside the
span bit-identical to the input file, in every channel and at its own sample rate.
A long input is edited in windows; the span is mapped onto each window's latent frames.

With ``free_eta0_check`` the editor also samples eta=0 twice more, and reports how well
steps 1-2 alone reconstruct the observed audio, next to the VAE's ``vae_mel_snr_observed``
(the edits match the input outside the span by construction, so they cannot show it):
``eta0_free_mel_snr_observed`` holds nothing, so the model also chooses what sounds in the
span, and that choice can change the observed audio around it; ``eta0_span_held_mel_snr_observed``
holds the span's latent frames to the input's (as they were in steps 1-2) and generates the
observed audio, which measures the fit of steps 1-2 alone.

To run (from the repo root)::

    python recipes/inpainting/edit.py hparams/inpainting.yaml \\
        --input_wav=benchmarks/toy_world/inpainting_00_input.wav \\
        --target_prompt="a door knock"

The editor (``InpaintingEditor``) lives in ``audio_editing/editing/editors.py``.

Authors: the audio_editing developers
"""

from audio_editing.cli import run_cli
from audio_editing.editing.editors import InpaintingEditor
from audio_editing.editing.recipe import run_edit


if __name__ == "__main__":
    run_cli(lambda argv: run_edit(InpaintingEditor, argv))
