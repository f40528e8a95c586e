"""What the mel-VAE families share: log-mel -> AutoencoderKL latent -> log-mel -> vocoder.

TANGO, AudioLDM and AudioLDM 2 use AudioLDM's VAE and HiFi-GAN; the embedded model uses its own
small VAE and Griffin-Lim. Subclasses set ``vae``, ``unet``, ``vocoder``, ``logmel``,
``sample_rate`` and ``window_seconds``.
"""

import torch
import torch.nn.functional as F

from audio_editing.backbones.base import Backbone
from audio_editing.errors import UserError


class MelVAEBackbone(Backbone):
    """Audio <-> latent through the shared log-mel front end and an ``AutoencoderKL``."""

    @property
    def latent_multiple(self) -> int:
        """Mel frames per latent frame times the UNet's total downsampling: frames must be a multiple."""
        vae_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        return vae_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def window_frames(self) -> int:
        return self.window_samples // self.logmel.hop_length

    def check_window(self, trained_seconds: float) -> None:
        """A one-line error when ``window_seconds`` cannot pass through the VAE and UNet."""
        if self.window_samples % self.logmel.hop_length or self.window_frames % self.latent_multiple:
            step = self.latent_multiple * self.logmel.hop_length / self.sample_rate
            raise UserError(f"window_seconds={self.window_seconds:g} does not fit this model: use a multiple "
                            f"of {step:g} s (e.g. {trained_seconds:g}, what it was trained on)")

    def mel(self, wav: torch.Tensor) -> torch.Tensor:
        """[B, T] -> log-mel [B, 1, frames, n_mels] of the zero-padded (or cut) window."""
        wav = F.pad(wav, (0, max(0, self.window_samples - wav.shape[-1])))[..., : self.window_samples]
        return self.logmel(wav.clamp(-1.0, 1.0))[:, None]

    def encode_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform -> scaled latent (the posterior mode: an edit wants the input, not a sample of it)."""
        param = next(self.vae.parameters())
        mel = self.mel(wav.to(param.device).float()).to(param.dtype)
        return self.vae.encode(mel).latent_dist.mode() * self.vae.config.scaling_factor

    def decode_mel(self, z: torch.Tensor) -> torch.Tensor:
        """Latent -> log-mel [B, 1, frames, n_mels]."""
        param = next(self.vae.parameters())
        return self.vae.decode((z / self.vae.config.scaling_factor).to(param.dtype)).sample

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent -> waveform [B, frames * hop] (a HiFi-GAN's transposed convolutions overshoot a little)."""
        mel = self.decode_mel(z)[:, 0]
        return self.vocoder(mel)[..., : mel.shape[-2] * self.logmel.hop_length]


class AudioLDMLineageBackbone(MelVAEBackbone):
    """TANGO, AudioLDM, AudioLDM 2: their input normalisation (AudioLDM's ``normalize_wav``)."""

    def prepare_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """Remove the mean, then peak-normalise to 0.5."""
        wav = wav - wav.mean(dim=-1, keepdim=True)
        return 0.5 * wav / (wav.abs().amax(dim=-1, keepdim=True) + 1e-8)
