"""ClapScorer scores whole clips on fixed windows: deterministic, and every second counts."""

import functools
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from audio_editing.backbones.audioldm import tiny_roberta_tokenizer  # noqa: E402
from audio_editing.evaluation.clap import ClapScorer  # noqa: E402

RATE = 48000  # the CLAP feature extractor's rate


@functools.cache
def tiny_scorer(truncation="rand_trunc"):
    """A tiny random ClapModel + ClapProcessor built in code (as tests/integration/test_real_backbones.py does);
    "rand_trunc" is laion/clap-htsat-unfused's extractor, "fusion" goes with a fused model."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    fusion = truncation == "fusion"
    torch.manual_seed(0)
    tokenizer = tiny_roberta_tokenizer()
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=80, projection_dim=8),
        audio_config=dict(hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16,
                          num_mel_bins=64, spec_size=256, window_size=4, projection_dim=8, enable_fusion=fusion),
        projection_dim=8)
    processor = ClapProcessor(feature_extractor=ClapFeatureExtractor(truncation=truncation), tokenizer=tokenizer)
    return ClapScorer(ClapModel(config), processor)


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
