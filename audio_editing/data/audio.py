"""Audio files in and out: soundfile for I/O, checks that turn bad input into one-line errors.

Writes are atomic (a temporary file in the same folder, then ``os.replace``) so a
killed run never leaves a half-written wav behind.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from audio_editing.errors import UserError


def load_audio(path, sample_rate: int) -> torch.Tensor:
    """Read any soundfile-readable file, downmix to mono, resample -> float32 [T].

    Raises ``UserError`` for a missing, unreadable, empty or non-finite file.

    Example
    -------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> write_audio(f, torch.ones(22050) * 0.1, 22050)
    >>> load_audio(f, 16000).shape
    torch.Size([16000])
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"input file '{path}' does not exist; pass an existing audio file with --input_wav")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise UserError(f"cannot read '{path}' as audio ({str(err).strip().splitlines()[-1]}); "
                        "use a wav, flac or ogg file") from None
    if data.shape[0] == 0:
        raise UserError(f"'{path}' contains no audio samples; use a non-empty recording")
    if not np.isfinite(data).all():
        raise UserError(f"'{path}' contains NaN or infinite samples; repair or re-export the file")
    wav = torch.from_numpy(data.mean(axis=1))
    if rate != sample_rate:
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    return wav.contiguous()


def write_audio(path, wav: torch.Tensor, sample_rate: int) -> None:
    """Atomically write a mono float waveform as 16-bit PCM (clipped to [-1, 1])."""
    data = wav.detach().float().cpu().clamp(-1.0, 1.0).numpy()
    atomic_write(path, lambda f: sf.write(f, data, sample_rate, subtype="PCM_16", format="WAV"))


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
    """(start, end) in seconds of the longest run of exact zeros, or None if shorter than ``min_seconds``."""
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
