"""Keeping the input's background: the stationary bed (room tone, rain, an engine) an edit lost, put back.

A prompt names the sound to change ("a dog barking"), rarely the bed under it, so an edit that
regenerates the clip under that prompt drops the rain or the engine the input had. The bed is
what sounds when nothing else does: its power per frequency is the mean over the clip's quietest
fifth of frames (the minimum statistics of noise estimation). Where an edit's own floor is below the input's, the
missing share is added back: the input's own STFT bins where only the bed sounds, comfort noise
at the bed's level under the input's events (so none of the source's phase, and so none of its
sound, comes back). An edit that kept its bed gets nothing; so does the input itself.

A sound present in over 80 % of the clip's frames counts as background.
"""

import math

import torch

from audio_editing.data.audio import limit_outputs

BED_QUANTILE = 0.2  # the bed: the mean spectrum of the quietest fifth of the frames
WINDOW_SECONDS = 0.064  # STFT window (a power of two of samples near it)
KEPT_SHORTFALL = 0.25  # a frequency whose bed an edit kept within this share of its power (~1 dB) gets nothing
EXPOSED = 3.0  # an input bin within this factor of the bed's amplitude is the bed itself (kept as it is)


def stft_settings(sample_rate: int):
    """(n_fft, hop) for ``sample_rate``: about 64 ms windows, a quarter hop."""
    n_fft = 2 ** round(math.log2(WINDOW_SECONDS * sample_rate))
    return n_fft, n_fft // 4


def bed_power(spec: torch.Tensor) -> torch.Tensor:
    """Per-frequency power of the stationary bed of STFTs ``spec`` [..., F, frames]: [..., F], the mean power
    of the quietest ``BED_QUANTILE`` of the frames (chosen by their total power: a whole frame of bed, so a
    noise bed's mean level and not its dips)."""
    power = spec.abs().pow(2)
    total = power.sum(dim=-2, keepdim=True)  # [..., 1, frames]
    quiet = (total <= torch.quantile(total, BED_QUANTILE, dim=-1, keepdim=True)).to(power)
    return (power * quiet).sum(dim=-1) / quiet.sum(dim=-1)


def restore_background(input_wav: torch.Tensor, wavs: torch.Tensor, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """Each edit of ``wavs`` [n, ..., T] with the share of ``input_wav`` [..., T]'s bed it lacks added back
    (per channel, per frequency); an output louder than full scale (or the input's peak) is scaled down as a whole.

    Example
    -------
    >>> rate = 16000
    >>> rain = 0.05 * torch.randn(rate, generator=torch.Generator().manual_seed(0))
    >>> bark = torch.zeros(rate); bark[4000:6000] = 0.5 * torch.sin(torch.arange(2000) * 0.3)
    >>> edit = torch.zeros(1, rate); edit[0, 4000:6000] = 0.5 * torch.sin(torch.arange(2000) * 0.05)
    >>> out = restore_background(rain + bark, edit, rate)
    >>> round(float(out[0, 9000:].std() / rain[9000:].std()), 1)   # the rain is back where the edit was silent
    1.0
    >>> bool(torch.equal(restore_background(rain + bark, (rain + bark)[None], rate)[0], rain + bark))
    True
    """
    n_fft, hop = stft_settings(sample_rate)
    window = torch.hann_window(n_fft, dtype=torch.float32)
    length = input_wav.shape[-1]

    def stft(x):
        return torch.stft(x.reshape(-1, length).float(), n_fft, hop, window=window, return_complex=True)

    spec_in, spec_out = stft(input_wav.cpu()), stft(wavs.cpu())  # [channels, F, frames], [n * channels, F, frames]
    channels = spec_in.shape[0]
    bed_in = bed_power(spec_in)  # [channels, F]
    bed_out = bed_power(spec_out).view(-1, channels, bed_in.shape[-1])
    shortfall = ((bed_in - bed_out) / bed_in.clamp_min(1e-20)).clamp_min(0)  # [n, channels, F]: 0 = kept
    missing = torch.where(shortfall > KEPT_SHORTFALL, shortfall, torch.zeros_like(shortfall)).sqrt()
    if not bool(missing.any()):
        return wavs
    level = bed_in.sqrt()[..., None]
    generator = torch.Generator().manual_seed(seed)
    comfort = level * torch.exp(2j * math.pi * torch.rand(spec_in.shape, generator=generator))
    bed = torch.where(spec_in.abs() <= EXPOSED * level, spec_in, comfort)  # [channels, F, frames]
    added = torch.istft((missing[..., None] * bed).flatten(0, 1), n_fft, hop, window=window, length=length)
    return limit_outputs(wavs + added.view(wavs.shape).to(wavs), input_wav)
