"""An edit louder than full scale is written scaled down, never clipped."""

import numpy as np
import soundfile as sf
import torch

from audio_editing.data.audio import OUTPUT_PEAK, limit_peak
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.recipe import run_edit
from tests.conftest import tiny_args


def test_limit_peak_scales_only_the_rows_above_the_peak_and_keeps_their_shape():
    wavs = torch.tensor([[0.2, -3.0, 1.5], [0.1, -0.3, 0.2]])
    limited = limit_peak(wavs, 0.9)
    assert torch.allclose(limited[0], wavs[0] * 0.3) and torch.equal(limited[1], wavs[1])
    assert limited.abs().max() <= 0.9 + 1e-6


def test_a_loud_decoded_edit_is_written_below_full_scale(clip, tiny_model_dir, tmp_path, monkeypatch):
    decode = ImagicEditor.decode_windows
    monkeypatch.setattr(ImagicEditor, "decode_windows", lambda self, z: 50 * decode(self, z))  # far beyond 1
    result = run_edit(ImagicEditor, ["hparams/addition.yaml", f"--input_wav={clip}", "--target_prompt=a dog barks",
                                     *tiny_args(tiny_model_dir, tmp_path)])
    for eta in result.etas:
        written, _ = sf.read(result.folder / f"edit_eta{eta:.2f}.wav")
        peak = np.abs(written).max()
        assert 0.9 < peak <= OUTPUT_PEAK + 1e-3, peak  # at the limit: scaled down, not clipped, not silenced
        assert (np.abs(written) >= 0.999).sum() == 0
