"""The Backbone interface: the one seam between the editor and a latent diffusion model.

The editor, the baselines and the evaluators talk only to this interface, so
nothing outside ``audio_editing/backbones`` knows which model family is used.
"""

from dataclasses import dataclass, fields, replace
from typing import List, Optional

import torch
import torch.nn.functional as F

from audio_editing.errors import UserError


@dataclass
class TextCond:
    """Text conditioning of a diffusion model.

    Either a token sequence with its mask (``hidden`` [B, L, D], ``mask`` [B, L],
    1 for a real token) or a single vector per prompt (``hidden`` [B, D], no mask).
    The optimised embedding of step 1 keeps the target's shape and mask.

    Example
    -------
    >>> a = TextCond(torch.zeros(1, 3, 4), torch.ones(1, 3))
    >>> b = TextCond(torch.ones(1, 3, 4), torch.ones(1, 3))
    >>> a.lerp(b, 0.25).hidden.mean().item()
    0.25
    """

    hidden: torch.Tensor
    mask: Optional[torch.Tensor] = None

    def lerp(self, other: "TextCond", eta: float) -> "TextCond":
        """``eta * other + (1 - eta) * self``: eta=0 gives self, eta=1 gives other.

        Token sequences of other lengths or masks (e.g. e_opt started from the empty prompt, e_target
        from a longer one) are padded to the longer, and for eta != 0 every token real in either is
        attended to; eta=0 keeps self's mask.

        Example
        -------
        >>> short = TextCond(torch.ones(1, 2, 4), torch.tensor([[1, 0]]))
        >>> long = TextCond(torch.zeros(1, 3, 4), torch.ones(1, 3, dtype=torch.long))
        >>> short.lerp(long, 0.5).mask.tolist(), short.lerp(long, 0.0).mask.tolist()
        ([[1, 1, 1]], [[1, 0, 0]])
        """
        if self.mask is None:
            return replace(self, hidden=torch.lerp(self.hidden, other.hidden.to(self.hidden), eta))
        length = max(self.hidden.shape[1], other.hidden.shape[1])
        a, b = self.pad_to(length), other.pad_to(length)
        mask = a.mask if eta == 0 else torch.maximum(a.mask, b.mask.to(a.mask))
        return TextCond(torch.lerp(a.hidden, b.hidden.to(a.hidden), eta), mask)

    def requires_grad_(self, flag: bool = True) -> "TextCond":
        self.hidden.requires_grad_(flag)
        return self

    def detach(self) -> "TextCond":
        return self.map(lambda x: x.detach())

    def to(self, *args, **kwargs) -> "TextCond":
        return self.map(lambda x: x.to(*args, **kwargs))

    def map(self, fn) -> "TextCond":
        """Apply ``fn`` to every tensor field."""
        return TextCond(**{f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                           for f in fields(self)})

    def repeat(self, n: int) -> "TextCond":
        """Repeat each prompt n times along the batch (prompt-major)."""
        return self.map(lambda x: x.repeat_interleave(n, dim=0))

    @property
    def batch_size(self) -> int:
        return self.hidden.shape[0]

    def pad_to(self, length: int) -> "TextCond":
        """Pad (with masked-out zeros) or cut a token sequence to ``length`` tokens."""
        if self.mask is None:
            return self
        extra = length - self.hidden.shape[1]
        if extra <= 0:
            return TextCond(self.hidden[:, :length], self.mask[:, :length])
        return TextCond(F.pad(self.hidden, (0, 0, 0, extra)), F.pad(self.mask, (0, extra)))

    @staticmethod
    def cat(conds: List["TextCond"]) -> "TextCond":
        """Concatenate along the batch, padding token sequences to the longest."""
        if conds[0].mask is None:
            return TextCond(torch.cat([c.hidden for c in conds]))
        length = max(c.hidden.shape[1] for c in conds)
        padded = [c.pad_to(length) for c in conds]
        return TextCond(torch.cat([c.hidden for c in padded]), torch.cat([c.mask for c in padded]))


class Backbone(torch.nn.Module):
    """A text-to-audio latent diffusion model seen through what the editor needs.

    Subclasses own ``sample_rate``, ``window_seconds`` (the longest input one pass
    takes), ``scheduler`` (a diffusers training scheduler), ``unet``, ``logmel``
    (their log-mel front end, also used for metrics and figures) and
    ``lora_target_modules``, and implement the audio/text encoders, the decoder
    and ``predict``. Latents are laid out [B, C, time, freq]. A model of several ``channels`` (Stable Audio's
    stereo) takes and gives waveforms [B, channels, T]; the editor then holds the input as [channels, T].
    """

    sample_rate: int
    channels: int = 1  # waveform channels the model takes: 1, waveforms [B, T]; 2 (stereo), [B, 2, T]
    window_seconds: float
    lora_target_modules: List[str] = ["to_q", "to_k", "to_v", "to_out.0"]
    first_timestep: Optional[int] = None  # sampling from pure noise starts here (``noise_timesteps``); None: at the top

    @staticmethod
    def freeze(*modules: torch.nn.Module) -> None:
        """Parts an edit never trains (VAE, text encoders, vocoder): no gradients, eval mode."""
        for module in modules:
            module.requires_grad_(False)
            module.eval()

    @property
    def window_samples(self) -> int:
        return round(self.window_seconds * self.sample_rate)

    # --- audio <-> latent -------------------------------------------------
    def encode_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform [B, T] (or [B, channels, T]) at ``sample_rate`` -> latent [B, C, time, freq]."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent -> waveform [B, window samples]."""
        raise NotImplementedError

    def prepare_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """Model-specific normalisation of a waveform already at ``sample_rate``."""
        return wav

    # --- text -------------------------------------------------------------
    def encode_text(self, prompts: List[str]) -> TextCond:
        raise NotImplementedError

    def null_cond(self, cond: TextCond) -> TextCond:
        """The unconditional input for classifier-free guidance, shaped like ``cond``."""
        empty = self.encode_text([""] * cond.batch_size)
        empty = empty.pad_to(cond.hidden.shape[1]) if cond.mask is not None else empty
        return TextCond(empty.hidden.to(cond.hidden),
                        None if cond.mask is None else empty.mask.to(cond.mask))

    # --- diffusion ----------------------------------------------------------
    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        """The UNet's output (epsilon, v or x0, as the scheduler says) for noisy latents."""
        raise NotImplementedError

    @property
    def prediction_type(self) -> str:
        return self.scheduler.config.prediction_type

    @property
    def num_train_timesteps(self) -> int:
        return self.scheduler.config.num_train_timesteps

    def noise_timesteps(self, sampler) -> torch.Tensor:
        """The timesteps of ``sampler`` (after ``set_timesteps``) that sampling from pure noise runs through.

        All of them, unless the model sets ``first_timestep``: then from the first one at or below it on, the
        noise read as the latent at that level (a finite sigma_max, as in Karras et al. 2022; the embedded model
        renders short events from 940 and leaves many of them out from 999). The sampler is told where it starts
        (``set_begin_index``), as diffusers' image-to-image pipelines do.
        """
        timesteps = sampler.timesteps
        if self.first_timestep is None or timesteps[0] <= self.first_timestep:
            return timesteps
        if float(sampler.init_noise_sigma) != 1.0:
            raise UserError(f"this model starts sampling at timestep {self.first_timestep}, which "
                            f"{type(sampler).__name__} cannot (its noise is scaled to its own top level): "
                            "use a DDIM, DDPM, DPM-Solver or UniPC sampler")
        begin = int((timesteps > self.first_timestep).sum())
        if hasattr(sampler, "set_begin_index"):
            sampler.set_begin_index(begin)
        return timesteps[begin:]

    def add_noise(self, z0, noise, t):
        return self.scheduler.add_noise(z0, noise, t)

    def training_target(self, z0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What ``predict`` is trained to output: epsilon, v = alpha*eps - sigma*z0, or z0."""
        if self.prediction_type == "epsilon":
            return noise
        if self.prediction_type == "v_prediction":
            return self.scheduler.get_velocity(z0, noise, t)
        if self.prediction_type == "sample":
            return z0
        raise ValueError(f"unsupported prediction type {self.prediction_type!r}")

    # --- what step 2 trains -------------------------------------------------
    def enable_lora(self, rank: int = 4, alpha: Optional[float] = None,
                    target_modules: Optional[List[str]] = None) -> None:
        """Add a LoRA adapter (peft) to the UNet, once: to the modules named ``target_modules``
        (peft's suffix match: ``conv1`` adapts every ResNet block's first convolution), by default
        ``lora_target_modules`` (the attention projections). A denoiser without diffusers' ``add_adapter``
        (AudioLDM 2's UNet, Stable Audio's DiT) gets the adapter from peft directly, registered as
        ``peft_config`` as diffusers does."""
        from peft import LoraConfig, inject_adapter_in_model

        if getattr(self.unet, "peft_config", None):
            return
        config = LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian",
                            target_modules=list(target_modules or self.lora_target_modules))
        if hasattr(self.unet, "add_adapter"):
            self.unet.add_adapter(config)
        else:
            inject_adapter_in_model(config, self.unet, adapter_name="default")
            self.unet.peft_config = {"default": config}

    def trainable_parameters(self, mode: str) -> List[torch.nn.Parameter]:
        """Freeze everything, then unfreeze and return what ``mode`` trains.

        ``full``: all UNet weights. ``lora``: only the adapter added by ``enable_lora``.
        """
        self.requires_grad_(False)
        if mode == "full":
            params = list(self.unet.parameters())
        elif mode == "lora":
            if not getattr(self.unet, "peft_config", None):
                raise ValueError("call enable_lora() before trainable_parameters('lora')")
            params = [p for n, p in self.unet.named_parameters() if "lora_" in n]
        else:
            raise ValueError(f"fine-tuning mode must be 'full' or 'lora', got {mode!r}")
        for p in params:
            p.requires_grad_(True)
        return params

    def latent_time_mask(self, keep: torch.Tensor, z_shape) -> torch.Tensor:
        """Map a per-sample 0/1 mask [B, T] to the latent's time axis, [B, 1, time, 1].

        A latent frame counts as kept only if every sample it covers is kept.
        """
        frames = z_shape[2]
        pooled = -F.adaptive_max_pool1d(-keep[:, None].float(), frames)
        return pooled[:, :, :, None]

    @classmethod
    def from_pretrained(cls, source: str, **kwargs) -> "Backbone":
        """Load from a hub id or a local folder; missing offline -> a UserError naming it."""
        raise NotImplementedError
