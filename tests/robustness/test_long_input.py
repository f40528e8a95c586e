"""An input three windows long, 44.1 kHz stereo, edited end to end on the tiny model (1.28 s window)."""

import soundfile as sf
import torch

from audio_editing.recipe import run_edit
from audio_editing.editing.edit_types import editor_class
from tests.conftest import assert_span_filled, tiny_args
from tests.robustness.conftest import signal

RATE = 44100
GAP = (1.0, 1.4)  # seconds: across the seam of windows 0 (0-1.28 s) and 1 (0.96-2.24 s)


def test_long_stereo_inpainting_in_three_windows_keeps_every_observed_sample(tiny_model_dir, tmp_path):
    data = signal(3.0, RATE, channels=2)
    data[round(GAP[0] * RATE): round(GAP[1] * RATE)] = 0.0
    sf.write(str(tmp_path / "long.wav"), data, RATE, subtype="PCM_16")
    result = run_edit(editor_class("inpainting"), [
        "hparams/inpainting.yaml", f"--input_wav={tmp_path / 'long.wav'}", "--target_prompt=a dog barks",
        *tiny_args(tiny_model_dir, tmp_path / "out"), "--emb_steps=3", "--ft_steps=2", "--sample_steps=3"])

    # three windows of 1.28 s overlapping by >= 0.32 s, the last ending at the end
    assert result.window_starts == [0, 15360, 27520] and 27520 + 20480 == 3 * 16000
    assert result.latents.shape[:2] == (2, 3) and result.input_latent.shape[0] == 3
    # each window has its own optimised embedding; one fine-tuned UNet serves them all
    ckpt = next((result.folder / "save").glob("CKPT*"))
    hidden = torch.load(ckpt / "embedding.ckpt")["hidden"]
    assert hidden.shape[0] == 3 and not torch.equal(hidden[0], hidden[1])
    assert len(result.losses["embedding"]) == 3 and len(result.losses["finetune"]) == 2

    original, _ = sf.read(str(tmp_path / "long.wav"), dtype="int16")
    start, end = round(GAP[0] * RATE), round(GAP[1] * RATE)
    for eta in result.etas:
        edited, rate = sf.read(str(result.folder / f"edit_eta{eta:.2f}.wav"), dtype="int16")
        assert rate == RATE and edited.shape == original.shape
        assert (edited[:start] == original[:start]).all() and (edited[end:] == original[end:]).all()
        assert_span_filled(edited, original, start, end)  # across the seam
