"""Vocoders shared by the mel-latent families: log-mel [B, frames, n_mels] -> waveform [B, T]."""

import torch
import torchaudio

from audio_editing.backbones.mel import LogMel


class GriffinLimVocoder(torch.nn.Module):
    """Inverts ``LogMel`` without weights: pseudo-inverse of the mel filterbank, then Griffin-Lim.

    Clean enough for the embedded model's synthetic sounds; real models ship a HiFi-GAN.

    Example
    -------
    >>> mel = LogMel()
    >>> GriffinLimVocoder(mel, n_iter=4)(mel(torch.randn(1, 3200))).shape
    torch.Size([1, 3200])
    """

    def __init__(self, logmel: LogMel, n_iter: int = 32):
        super().__init__()
        self.hop_length = logmel.hop_length
        self.register_buffer("inverse_fb", torch.linalg.pinv(logmel.filterbank), persistent=False)
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=logmel.n_fft, win_length=logmel.n_fft, hop_length=logmel.hop_length,
            power=1.0, n_iter=n_iter, rand_init=False,
        )

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        magnitude = (log_mel.float().exp() @ self.inverse_fb).clamp(min=0.0)
        # One repeated frame at the end: a centred STFT of F frames only spans (F - 1) hops.
        magnitude = torch.cat([magnitude, magnitude[..., -1:, :]], dim=-2)
        wav = self.griffin_lim(magnitude.transpose(-1, -2))
        return wav[..., : log_mel.shape[-2] * self.hop_length]


class HifiGanVocoder(torch.nn.Module):
    """AudioLDM's HiFi-GAN (diffusers/transformers ``SpeechT5HifiGan``) behind the same call."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        param = next(self.model.parameters())
        return self.model(log_mel.to(param)).float()
