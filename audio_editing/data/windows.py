"""Long inputs: cut a waveform into overlapping model windows and crossfade the edited windows back.

A model edits at most ``window`` samples at a time. A longer input is cut into windows
that overlap by at least ``overlap`` samples, the last one ending exactly at the input's end;
edited windows are joined by crossfading their overlaps with linear ramps, normalised so
that the weights sum to one everywhere (identical windows give back the input).
"""

import math
from typing import List

import torch
import torch.nn.functional as F


def window_starts(length: int, window: int, overlap: int) -> List[int]:
    """Start samples of the fewest windows (overlapping by >= ``overlap``) covering ``length``.

    Example
    -------
    >>> window_starts(100, 40, 10)
    [0, 30, 60]
    >>> window_starts(25, 40, 10)   # a short input: one window (padded by the model)
    [0]
    """
    if length <= window:
        return [0]
    hop = window - overlap
    count = math.ceil((length - window) / hop) + 1
    return [min(k * hop, length - window) for k in range(count)]


def cut_windows(wav: torch.Tensor, starts: List[int], window: int, pad_value: float = 0.0) -> torch.Tensor:
    """[..., T] -> [..., n_windows, window] (a short input is padded with ``pad_value``)."""
    wav = F.pad(wav, (0, max(0, window - wav.shape[-1])), value=pad_value)
    return torch.stack([wav[..., s: s + window] for s in starts], dim=-2)


def crossfade_weights(starts: List[int], window: int) -> torch.Tensor:
    """[n_windows, window] weights: linear ramps across each overlap with a neighbour, else 1."""
    weights = torch.ones(len(starts), window)
    for k in range(len(starts) - 1):
        overlap = starts[k] + window - starts[k + 1]
        if overlap > 0:
            ramp = (torch.arange(overlap) + 0.5) / overlap  # never 0: the weights' sum stays positive
            weights[k + 1, :overlap] = torch.minimum(weights[k + 1, :overlap], ramp)
            weights[k, window - overlap:] = torch.minimum(weights[k, window - overlap:], ramp.flip(0))
    return weights


def crossfade(windows: torch.Tensor, starts: List[int], length: int) -> torch.Tensor:
    """[..., n_windows, >= window] edited windows -> [..., length] (inverse of ``cut_windows``).

    Example
    -------
    >>> wav = torch.randn(100)
    >>> starts = window_starts(100, 40, 10)
    >>> torch.allclose(crossfade(cut_windows(wav, starts, 40), starts, 100), wav, atol=1e-6)
    True
    """
    if len(starts) == 1:
        return windows[..., 0, :length]
    window = length - starts[-1]  # the last window ends at the input's end
    windows = windows[..., :window]
    weights = crossfade_weights(starts, window).to(windows)
    total = windows.new_zeros(*windows.shape[:-2], length)
    norm = windows.new_zeros(length)
    for k, start in enumerate(starts):
        total[..., start: start + window] += windows[..., k, :] * weights[k]
        norm[start: start + window] += weights[k]
    return total / norm
