"""Property tests of the input path (no diffusion): any length, rate and channel count loads,
windows cover the input, crossfading undoes cutting, edits come back at the input's shape,
and an inpainting mask maps onto each window where that window lies."""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_editing.data.audio import AudioClip
from audio_editing.data.windows import crossfade, crossfade_weights, cut_windows, window_starts

MODEL_RATE = 16000
RATES = [8000, 11025, 16000, 22050, 32000, 44100, 44101, 48000, 96000, 37800]  # 44101: no useful gcd

inputs = st.fixed_dictionaries({
    "seconds": st.floats(0.001, 6.0),
    "rate": st.sampled_from(RATES),
    "channels": st.integers(1, 8),
    "window": st.sampled_from([2048, 20480, 40960]),
    "overlap": st.floats(0.0, 0.5),
    "seed": st.integers(0, 2 ** 16),
})


@settings(max_examples=60, deadline=None)
@given(inputs)
def test_any_input_loads_windows_and_returns_at_its_own_shape(case):
    rng = np.random.default_rng(case["seed"])
    frames = max(1, round(case["seconds"] * case["rate"]))
    clip = AudioClip(torch.from_numpy(rng.uniform(-1, 1, (case["channels"], frames)).astype("float32")),
                     case["rate"])
    wav = clip.to_model(MODEL_RATE)
    assert wav.dim() == 1 and wav.dtype == torch.float32 and torch.isfinite(wav).all()
    assert wav.shape[0] == math.ceil(frames * MODEL_RATE / case["rate"])

    window = case["window"]
    overlap = round(case["overlap"] * window)
    length = wav.shape[0]
    starts = window_starts(length, window, overlap)
    assert starts[0] == 0 and all(b > a for a, b in zip(starts, starts[1:]))
    if length <= window:
        assert starts == [0]
    else:  # the fewest windows: each overlaps the next by >= overlap, the last ends at the end
        assert starts[-1] + window == length
        assert all(a + window - b >= overlap for a, b in zip(starts, starts[1:]))
        assert len(starts) == math.ceil((length - window) / (window - overlap)) + 1

    windows = cut_windows(wav, starts, window)
    assert windows.shape == (len(starts), window)
    assert torch.allclose(crossfade(windows, starts, length), wav, atol=1e-5)
    weights = crossfade_weights(starts, window)
    assert (weights > 0).all() and (weights <= 1).all()

    edits = torch.stack([wav, -wav])
    back = clip.from_model(edits, MODEL_RATE)
    assert back.shape == (2, case["channels"], frames)
    assert torch.equal(back[:, 0], back[:, -1])  # the mono edit in every channel


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 100_000), window=st.sampled_from([2048, 20480]), overlap=st.floats(0.0, 0.5),
       span=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_inpainting_mask_maps_onto_every_window(length, window, overlap, span):
    """Window k's mask is the input's mask over [start_k, start_k + window), observed past the end."""
    start, end = sorted(round(s * length) for s in span)
    keep = torch.ones(length)
    keep[start:end] = 0.0
    starts = window_starts(length, window, round(overlap * window))
    windows = cut_windows(keep, starts, window, pad_value=1.0)
    for k, s in enumerate(starts):
        inside = keep[s: s + window]
        assert torch.equal(windows[k, : len(inside)], inside)
        assert (windows[k, len(inside):] == 1).all()
    # joining the windows' masks gives the mask back: a span is never lost at a window seam
    assert torch.equal(crossfade(windows, starts, length) < 1, keep < 1)
