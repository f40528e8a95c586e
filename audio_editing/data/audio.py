"""Audio files in and out: soundfile for I/O, checks that turn bad input into one-line errors.

Any file soundfile reads is accepted: any sample rate (resampled to the model's), any
channel count (downmixed to mono for the model; a stereo model takes a stereo file as it is), any
sample format. Edits go back out at the input's rate, channel count and length
(``AudioClip.from_model``), in 16-bit PCM, or in the input's own format when that holds more
(24/32-bit PCM, float: a float input above full scale keeps its level instead of being clipped).

Writes are atomic (a temporary file in the same folder, then ``os.replace``) so a
killed run never leaves a half-written wav behind.
"""

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf
import torch
import torchaudio

from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

# A peak below this (-140 dBFS, under the smallest step of 24-bit PCM) is silence: nothing to edit.
SILENCE_PEAK = 1e-7
# Shorter inputs are refused: too short for a spectrogram frame, and nothing to edit.
MIN_SECONDS = 0.1
OUTPUT_PEAK = 0.99  # an edit louder than this (and than its input) is scaled down to it rather than clipped
# Output formats that keep what the input had; everything else is written as 16-bit PCM.
KEPT_SUBTYPES = {"PCM_24": "PCM_24", "PCM_32": "PCM_32", "FLOAT": "FLOAT", "DOUBLE": "FLOAT"}


@dataclass
class AudioClip:
    """A file's samples as read: ``samples`` [channels, T] float32 at ``sample_rate``.

    Example
    -------
    >>> clip = AudioClip(torch.ones(2, 441) * 0.5, 44100, "PCM_16")
    >>> wav = clip.to_model(16000)          # mono at the model's rate
    >>> wav.shape
    torch.Size([160])
    >>> clip.from_model(wav[None], 16000).shape   # [edits, channels, T] back at the input's
    torch.Size([1, 2, 441])
    """

    samples: torch.Tensor
    sample_rate: int
    subtype: str = "PCM_16"

    @property
    def frames(self) -> int:
        return self.samples.shape[-1]

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def output_subtype(self) -> str:
        """16-bit PCM, or the input's format when it holds more (24/32-bit PCM, float)."""
        return KEPT_SUBTYPES.get(self.subtype, "PCM_16")

    def to_model(self, sample_rate: int, channels: int = 1) -> torch.Tensor:
        """Mono (the mean of the channels) at ``sample_rate``: float32 [T']. For a model of several
        ``channels`` (Stable Audio's stereo): [channels, T'], the file's own channels where it has that many,
        else its mono mix on every channel."""
        if channels == 1:
            return resample(self.samples.mean(dim=0), self.sample_rate, sample_rate).contiguous()
        samples = self.samples if self.samples.shape[0] == channels else self.samples.mean(dim=0).expand(channels, -1)
        return resample(samples, self.sample_rate, sample_rate).contiguous()

    def from_model(self, wavs: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Edits [n, T'] (mono) or [n, model channels, T'] at ``sample_rate`` -> [n, channels, T] at the input's
        rate and length.

        A mono edit goes to every channel; a multi-channel edit keeps its channels where the input has as
        many, else its mono mix goes to every channel.

        Example
        -------
        >>> stereo = AudioClip(torch.zeros(2, 441), 44100)
        >>> edit = torch.stack([torch.ones(441), -torch.ones(441)])[None]
        >>> stereo.from_model(edit, 44100)[0, :, 0].tolist()
        [1.0, -1.0]
        """
        wavs = resample(wavs.float(), sample_rate, self.sample_rate)
        wavs = torch.nn.functional.pad(wavs, (0, max(0, self.frames - wavs.shape[-1])))[..., : self.frames]
        channels = self.samples.shape[0]
        if wavs.dim() == 3 and wavs.shape[1] == channels:
            return wavs.contiguous()
        mono = wavs.mean(dim=1) if wavs.dim() == 3 else wavs
        return mono[:, None].expand(-1, channels, -1).contiguous()


def mixdown(wav: torch.Tensor, mono_dims: int) -> torch.Tensor:
    """``wav`` as mono: the mean over its channel axis (the last but one) when it has more axes than a mono
    one (``mono_dims``: 1 for a signal [T], 2 for a batch [n, T]; a stereo model's are [2, T] and [n, 2, T]).

    Example
    -------
    >>> mixdown(torch.ones(3, 2, 5), 2).shape, mixdown(torch.ones(3, 5), 2).shape
    (torch.Size([3, 5]), torch.Size([3, 5]))
    """
    return wav.mean(dim=-2) if wav.dim() > mono_dims else wav


def resample(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample along the last axis (torchaudio; scipy's polyphase filter for awkward ratios).

    torchaudio builds a [new/g, orig/g] kernel (g = gcd of the rates): for a rate such as
    44101 Hz that is gigabytes, so such ratios go through ``scipy.signal.resample_poly``.
    """
    if orig_rate == new_rate:
        return wav
    g = math.gcd(orig_rate, new_rate)
    if (orig_rate // g) * (new_rate // g) <= 1_000_000:
        return torchaudio.functional.resample(wav, orig_rate, new_rate)
    from scipy.signal import resample_poly

    out = resample_poly(wav.numpy(), new_rate // g, orig_rate // g, axis=-1)
    return torch.from_numpy(out.astype(np.float32))


def read_audio(path) -> AudioClip:
    """Read any soundfile-readable file as it is (all channels, its own rate).

    Raises ``UserError`` for a missing, unreadable, empty, non-finite or silent file.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"input '{path}' is a folder, not an audio file; pass a wav, flac or ogg file")
    if not path.is_file():
        raise UserError(f"input file '{path}' does not exist; pass an existing audio file with --input_wav")
    try:
        info = sf.info(str(path))
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as err:
        raise UserError(f"cannot read '{path}' as audio ({str(err).strip().splitlines()[-1]}); "
                        "use a wav, flac or ogg file") from None
    return audio_clip(data, rate, info.subtype, path)


def audio_clip(data: np.ndarray, rate: int, subtype: str, path) -> AudioClip:
    """An ``AudioClip`` of samples ``data`` [T, channels] (float32) in format ``subtype`` (soundfile's name),
    checked as ``read_audio`` checks a file (``path`` names it in the messages)."""
    if data.shape[0] == 0:
        raise UserError(f"'{path}' contains no audio samples; use a non-empty recording")
    if data.shape[0] < MIN_SECONDS * rate:
        raise UserError(f"'{path}' is {1000 * data.shape[0] / rate:.1f} ms long; an edit needs at least "
                        f"{MIN_SECONDS:g} s of audio")
    if not np.isfinite(data).all():
        raise UserError(f"'{path}' contains NaN or infinite samples; repair or re-export the file")
    peak = float(np.abs(data).max())
    if peak < SILENCE_PEAK:
        raise UserError(f"'{path}' is silent (every sample is below -140 dBFS); there is nothing to edit")
    full_scale = np.abs(data) >= 0.999
    if subtype.startswith("PCM") and full_scale.mean() > 1e-3:
        logger.warning(f"'{path}' looks clipped ({100 * full_scale.mean():.1f}% of samples at full scale); "
                       "it is edited as it is")
    return AudioClip(torch.from_numpy(np.ascontiguousarray(data.T, dtype=np.float32)), rate, subtype)


def load_audio(path, sample_rate: int) -> torch.Tensor:
    """Read a file as mono float32 [T] at ``sample_rate`` (checks as ``read_audio``).

    Example
    -------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> write_audio(f, torch.ones(22050) * 0.1, 22050)
    >>> load_audio(f, 16000).shape
    torch.Size([16000])
    """
    return read_audio(path).to_model(sample_rate)


def check_audible(clip: AudioClip, wav: torch.Tensor, path) -> None:
    """The mono model input must keep the file's sound: channels in opposite phase cancel out
    (to zeros, or to quantisation noise more than 80 dB below the channels' peak)."""
    if float(wav.abs().max()) < max(SILENCE_PEAK, 1e-4 * float(clip.samples.abs().max())):
        raise UserError(f"'{path}' is silent once downmixed to mono (its channels cancel out); "
                        "there is nothing to edit")


def limit_peak(wavs: torch.Tensor, peak: float = OUTPUT_PEAK) -> torch.Tensor:
    """Each row of ``wavs`` [..., T] louder than ``peak`` scaled down as a whole to ``peak`` (others unchanged).

    A decoded edit can exceed full scale (guidance inflates the log-mel); writing it would clip
    it, and clipping adds the harmonics of a distorted sound. One gain per output keeps its shape.

    Example
    -------
    >>> limit_peak(torch.tensor([[0.5, -2.0], [0.1, 0.2]]), 0.5)
    tensor([[ 0.1250, -0.5000],
            [ 0.1000,  0.2000]])
    """
    loudest = wavs.abs().amax(dim=-1, keepdim=True)
    return wavs * torch.clamp(peak / loudest.clamp_min(1e-12), max=1.0)


def limit_outputs(outputs: torch.Tensor, input_wav: torch.Tensor, peak: Optional[float] = None) -> torch.Tensor:
    """Each output of ``outputs`` [n, ..., T] (all its channels at once) louder than ``peak`` scaled down as a
    whole (:func:`limit_peak`); ``peak`` defaults to full scale, or ``input_wav``'s peak where that is louder
    (a float file over full scale is not made quieter by its edit).

    Example
    -------
    >>> limit_outputs(torch.tensor([[[2.0, -1.0], [0.5, 0.5]]]), torch.tensor([1.5, 0.0]))
    tensor([[[ 1.5000, -0.7500],
             [ 0.3750,  0.3750]]])
    """
    peak = max(OUTPUT_PEAK, float(input_wav.abs().max())) if peak is None else peak
    return limit_peak(outputs.flatten(1), peak).view_as(outputs)


def write_audio(path, wav: torch.Tensor, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Atomically write a waveform [T] or [channels, T] as a wav (PCM is clipped to [-1, 1])."""
    data = wav.detach().float().cpu()
    if subtype != "FLOAT":
        data = data.clamp(-1.0, 1.0)
    data = data.numpy().T
    atomic_write(path, lambda f: sf.write(f, data, sample_rate, subtype=subtype, format="WAV"))


def atomic_write(path, write_fn) -> None:
    """Call ``write_fn(temp_path)`` then rename the result onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    os.close(fd)
    try:
        write_fn(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def digital_silence_span(wav: torch.Tensor, sample_rate: int, min_seconds: float = 0.05):
    """(start, end) in seconds of the longest run of exact zeros, or None if shorter than ``min_seconds``.

    ``wav`` is [T] or [channels, T] (a sample counts as zero only when every channel is).
    """
    if wav.dim() > 1:
        wav = wav.abs().amax(dim=0)
    zero = torch.cat([torch.tensor([False]), wav == 0, torch.tensor([False])]).int()
    edges = torch.diff(zero)
    starts, ends = torch.nonzero(edges == 1).flatten(), torch.nonzero(edges == -1).flatten()
    if len(starts) == 0:
        return None
    longest = int(torch.argmax(ends - starts))
    start, end = int(starts[longest]), int(ends[longest])
    if end - start < min_seconds * sample_rate:
        return None
    return start / sample_rate, end / sample_rate
