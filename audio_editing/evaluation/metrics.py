"""Signal-level metrics that need no learned model: log-mel SNR and onset F1."""

import math
from typing import List, Sequence

import torch
import torch.nn.functional as F


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


def spectral_flux(wav: torch.Tensor, sample_rate: int, hop_seconds: float = 0.01) -> torch.Tensor:
    """Onset strength per frame [frames]: the summed rise of the log-compressed magnitude spectrum.

    Frame ``n`` is centred on sample ``n * hop``; the flux at ``n`` is how much energy appeared
    since frame ``n - 1`` (half-wave rectified, so decays do not count).
    """
    hop = round(hop_seconds * sample_rate)
    n_fft = 2 ** math.ceil(math.log2(0.032 * sample_rate))  # ~32 ms window
    spec = torch.stft(wav.float().cpu(), n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
    log_mag = torch.log1p(100.0 * spec.abs())  # compression: quiet onsets count, not only loud ones
    rise = (log_mag[:, 1:] - log_mag[:, :-1]).clamp(min=0).sum(dim=0)
    return F.pad(rise, (1, 0))


def detect_onsets(wav: torch.Tensor, sample_rate: int, delta: float = 0.2, hop_seconds: float = 0.01,
                  peak_seconds: float = 0.03, mean_seconds: float = 0.1) -> List[float]:
    """Onset times in seconds of a waveform [T], by peak picking on the spectral flux.

    A frame is an onset when its flux (scaled so the clip's largest is 1) is the maximum within
    ``peak_seconds`` on either side and exceeds the local mean over ``mean_seconds`` by ``delta``.
    Digital silence has no onsets.

    Example
    -------
    >>> wav = torch.zeros(16000)
    >>> for start in (1600, 8000):  # noise bursts at 0.1 s and 0.5 s
    ...     wav[start:start + 800] = torch.randn(800, generator=torch.Generator().manual_seed(start))
    >>> [round(t, 1) for t in detect_onsets(wav, 16000)]
    [0.1, 0.5]
    """
    flux = spectral_flux(wav, sample_rate, hop_seconds)
    if flux.max() <= 1e-6:
        return []
    flux = flux / flux.max()
    peak, mean = round(peak_seconds / hop_seconds), round(mean_seconds / hop_seconds)
    local_max = F.max_pool1d(flux[None, None], 2 * peak + 1, stride=1, padding=peak)[0, 0]
    local_mean = F.avg_pool1d(flux[None, None], 2 * mean + 1, stride=1, padding=mean,
                              count_include_pad=False)[0, 0]
    is_onset = (flux == local_max) & (flux >= local_mean + delta)
    frames = torch.nonzero(is_onset).flatten().tolist()
    kept = []  # a plateau of equal maxima is one onset
    for frame in frames:
        if not kept or frame - kept[-1] > peak:
            kept.append(frame)
    return [frame * hop_seconds for frame in kept]


def onset_f1_from_times(reference: Sequence[float], estimate: Sequence[float], window: float = 0.05) -> float:
    """F-measure of estimated onsets against reference onsets, each matched at most once.

    Pairs closer than ``window`` seconds are matched greedily, closest first. Two empty
    lists agree (1.0); one empty list against a non-empty one scores 0.

    Example
    -------
    >>> onset_f1_from_times([0.1, 0.5, 0.9], [0.12, 0.52, 1.3])
    0.6666666666666666
    >>> onset_f1_from_times([0.1, 0.5], [0.3])
    0.0
    """
    if not reference and not estimate:
        return 1.0
    pairs = sorted((abs(r - e), i, j) for i, r in enumerate(reference) for j, e in enumerate(estimate)
                   if abs(r - e) <= window)
    used_ref, used_est = set(), set()
    for _, i, j in pairs:
        if i not in used_ref and j not in used_est:
            used_ref.add(i)
            used_est.add(j)
    matched = len(used_ref)
    if matched == 0:
        return 0.0
    precision, recall = matched / len(estimate), matched / len(reference)
    return 2 * precision * recall / (precision + recall)


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
