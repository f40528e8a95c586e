"""Signal-level metrics that need no learned model: log-mel SNR and onset F1."""

import math
from typing import List, Sequence

import librosa
import mir_eval
import numpy as np
import torch


def mel_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Log-mel SNR in dB: 10 log10( sum (ref - mean ref)^2 / sum (est - ref)^2 ), per batch row.

    Computed on log-mel spectrograms [B, frames, mels] (a reference row broadcasts). The
    reference's mean is removed so the constant floor of silent frames does not inflate it.

    Example
    -------
    >>> ref = torch.randn(1, 10, 4)
    >>> round(mel_snr(ref + 0.1 * torch.randn(1, 10, 4), ref).item()) in range(15, 26)
    True
    """
    reference = reference.expand_as(estimate)
    signal = (reference - reference.mean(dim=(-2, -1), keepdim=True)).pow(2).sum(dim=(-2, -1))
    error = (estimate - reference).pow(2).sum(dim=(-2, -1)).clamp(min=1e-10)
    return 10 * torch.log10(signal / error)


def detect_onsets(wav: torch.Tensor, sample_rate: int, delta: float = 0.24, hop_seconds: float = 0.01,
                  peak_seconds: float = 0.03, mean_seconds: float = 0.1) -> List[float]:
    """Onset times in seconds of a waveform [T]: ``librosa.onset.onset_detect`` on its mel spectral flux.

    The flux is librosa's onset strength with a ~32 ms window (its 2048-sample default blurs
    the onsets at 16 kHz). A frame is an onset when its flux (scaled to [0, 1] over the clip) is
    the maximum within ``peak_seconds`` on either side, exceeds the local mean over
    ``mean_seconds`` by ``delta``, and comes ``peak_seconds`` after the previous onset. Digital
    silence has no onsets. These defaults agree with the hand-written detector this replaced
    (onset F1 0.91 between the two on the toy_world benchmark's 54 wavs).

    Example
    -------
    >>> wav = torch.zeros(16000)
    >>> for start in (1600, 8000):  # noise bursts at 0.1 s and 0.5 s
    ...     wav[start:start + 800] = torch.randn(800, generator=torch.Generator().manual_seed(start))
    >>> [round(t, 1) for t in detect_onsets(wav, 16000)]
    [0.1, 0.5]
    """
    hop = round(hop_seconds * sample_rate)
    peak, mean = round(peak_seconds / hop_seconds), round(mean_seconds / hop_seconds)
    y = wav.detach().float().cpu().numpy()
    strength = librosa.onset.onset_strength(y=y, sr=sample_rate, hop_length=hop,
                                            n_fft=2 ** math.ceil(math.log2(0.032 * sample_rate)))
    onsets = librosa.onset.onset_detect(onset_envelope=strength, sr=sample_rate, hop_length=hop, units="time",
                                        backtrack=False, pre_max=peak, post_max=peak + 1, pre_avg=mean,
                                        post_avg=mean + 1, delta=delta, wait=peak)
    return onsets.tolist()


def onset_f1_from_times(reference: Sequence[float], estimate: Sequence[float], window: float = 0.05) -> float:
    """F-measure of estimated onsets against reference onsets (``mir_eval.onset.f_measure``).

    Pairs at most ``window`` seconds apart are matched, each onset at most once. Two empty
    lists agree (1.0; mir_eval would warn and score 0); one empty list against a non-empty
    one scores 0.

    Example
    -------
    >>> onset_f1_from_times([0.1, 0.5, 0.9], [0.12, 0.52, 1.3])
    0.6666666666666666
    >>> onset_f1_from_times([0.1, 0.5], [0.3])
    0.0
    """
    if not len(reference) and not len(estimate):
        return 1.0
    if not len(reference) or not len(estimate):
        return 0.0
    return mir_eval.onset.f_measure(np.sort(reference), np.sort(estimate), window=window)[0]


def onset_f1(reference_wav: torch.Tensor, wavs: torch.Tensor, sample_rate: int, window: float = 0.05) -> List[float]:
    """Onset F1 (``window`` s tolerance) of each row of ``wavs`` [B, T] against ``reference_wav`` [T].

    Style transfer should keep the input's onsets (F1 near 1); an edit that moves or drops
    events scores lower.

    Example
    -------
    >>> wav = torch.zeros(16000)
    >>> wav[4000:4800] = torch.randn(800, generator=torch.Generator().manual_seed(0))
    >>> onset_f1(wav, torch.stack([wav, wav.roll(2400)]), 16000)
    [1.0, 0.0]
    """
    reference = detect_onsets(reference_wav, sample_rate)
    return [onset_f1_from_times(reference, detect_onsets(wav, sample_rate), window) for wav in wavs]
