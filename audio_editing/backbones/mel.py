"""The log-mel front end shared by the mel-latent families (AudioLDM, TANGO, the embedded model).

16 kHz, n_fft 1024, hop 160 (100 frames/s), 64 slaney mel bins up to 8 kHz,
magnitude (not power) spectrogram, natural log clamped at 1e-5: the settings
AudioLDM's VAE and HiFi-GAN were trained on.
"""

import torch
import torchaudio


class LogMel(torch.nn.Module):
    """Waveform [B, T] -> log-mel [B, frames, n_mels], frames = T // hop_length.

    Example
    -------
    >>> LogMel()(torch.zeros(2, 16000)).shape
    torch.Size([2, 100, 64])
    """

    def __init__(self, sample_rate=16000, n_fft=1024, hop_length=160, n_mels=64,
                 f_min=0.0, f_max=8000.0, log_floor=1e-5):
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.log_floor = log_floor
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=n_fft, hop_length=hop_length,
            f_min=f_min, f_max=f_max, n_mels=n_mels, power=1.0, norm="slaney", mel_scale="slaney",
        )

    @property
    def filterbank(self) -> torch.Tensor:
        """[n_freqs, n_mels] mel filterbank."""
        return self.mel.mel_scale.fb

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        frames = wav.shape[-1] // self.hop_length
        self.mel.to(wav.device)  # follows its input: metrics and figures run it on CPU tensors too
        mel = self.mel(wav.float())[..., :frames]
        return torch.log(mel.clamp(min=self.log_floor)).transpose(-1, -2)
