"""ClapScorer scores whole clips on fixed windows: deterministic, and every second counts."""

import functools
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from audio_editing.evaluation.clap import ClapScorer  # noqa: E402
from tests.conftest import tiny_clap  # noqa: E402

RATE = 48000  # the CLAP feature extractor's rate


@functools.cache
def tiny_scorer(truncation="rand_trunc"):
    """A tiny random ClapModel + ClapProcessor built in code (as tests/integration/test_real_backbones.py does);
    "rand_trunc" is laion/clap-htsat-unfused's extractor, "fusion" goes with a fused model."""
    return ClapScorer(*tiny_clap(truncation))


def noise(seconds, rows=1, seed=0):
    return 0.1 * torch.randn(rows, round(seconds * RATE), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("truncation, seconds", [("rand_trunc", 10.24), ("rand_trunc", 60.0), ("fusion", 10.24)])
def test_scoring_twice_is_bit_identical(truncation, seconds):
    scorer, wavs, ref = tiny_scorer(truncation), noise(seconds), noise(seconds, seed=1)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    text = [scorer.text_scores(wavs, RATE, ["a dog barks"]) for _ in range(2)]
    audio = [scorer.audio_scores(wavs, RATE, ref) for _ in range(2)]
    assert torch.equal(text[0], text[1]) and torch.equal(audio[0], audio[1])
    assert np.array_equal(np.random.get_state()[1], before), "np.random was consumed"


def test_windows_cover_the_whole_clip():
    """A change confined to the first or to the last second of a 60 s clip moves its embedding; a copy does not."""
    wavs = noise(60.0).repeat(4, 1)
    wavs[1, :RATE] *= -3.0
    wavs[2, -RATE:] *= -3.0
    original, first, last, copy = tiny_scorer().audio_embeddings(wavs, RATE)
    assert torch.allclose(copy, original, atol=1e-6)
    assert not torch.allclose(first, original, atol=1e-4) and not torch.allclose(last, original, atol=1e-4)
