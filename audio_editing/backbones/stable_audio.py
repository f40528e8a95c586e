"""Stable Audio Open (stabilityai/stable-audio-open-1.0): a diffusion transformer on a stereo 44.1 kHz VAE latent.

A folder (or hub snapshot) in diffusers layout holds ``vae/`` (``AutoencoderOobleck``: stereo waveform <->
64 x frames latent, 2048 samples a frame), ``transformer/`` (``StableAudioDiTModel``), ``projection_model/``
(``StableAudioProjectionModel``: T5 states and the seconds_start / seconds_total numbers into the DiT's
conditioning width), ``text_encoder/`` + ``tokenizer/`` (T5-base) and ``scheduler/``
(``CosineDPMSolverMultistepScheduler``, the model card's sampler). Each part is loaded on its own.

**Conditioning**, as ``StableAudioPipeline`` builds it: the projected T5 states of the prompt padded to the
tokenizer's length (padding zeroed), followed by the seconds_start and seconds_total tokens, are the
cross-attention states (``TextCond.hidden`` [B, L + 2, D], no mask: the pipeline masks nothing); the two
seconds tokens side by side are the global state prepended to the latent sequence. The duration is the
backbone's window (seconds_start 0, seconds_total ``window_seconds``). The unconditional input is all zeros
(the pipeline's, without a negative prompt). Step 1 optimises the whole cross-attention sequence.

**Noise levels.** The model is a v-diffusion model in continuous time t in (0, 1]: z_t = cos(pi t / 2) z0 +
sin(pi t / 2) eps, target v = cos(pi t / 2) eps - sin(pi t / 2) z0, and t is what the DiT's timestep input
takes. ``scheduler`` (what steps 1-2 train on, and the DDPM/DDIM steps of DDPM inversion and inversion-free
editing run on) is a ``DDPMScheduler`` whose ``num_train_timesteps`` levels are those of that continuous
schedule at t_i = t_max (i + 1) / N, t_max the time of the sampler's sigma_max (alpha_bar_i = cos^2(pi t_i / 2),
v-prediction); its config also holds the sampler's settings, so ``model_sampler`` builds the model card's
``CosineDPMSolverMultistepScheduler`` from it. ``predict`` reads an integer timestep as a level of that grid
and a floating one as the model's own time (what the cosine sampler's timesteps are: atan(sigma) 2 / pi), and
``add_noise`` noises the same way: the grid's z_t, or the sampler's z0 + sigma eps (sigma = tan(pi t / 2)).

Latents are laid out [B, 64, frames, 1] (the interface's [B, C, time, freq]); waveforms are [B, 2, T].
"""

import logging
import math
from typing import List, Optional

import torch
import torch.nn.functional as F

from audio_editing.backbones.base import Backbone, TextCond
from audio_editing.backbones.mel import LogMel
from audio_editing.backbones.tango import count_parameters, require_components, resolve_checkpoint_folder
from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

HUB_ID = "stabilityai/stable-audio-open-1.0"
COMPONENTS = ("vae", "transformer", "projection_model", "text_encoder", "tokenizer", "scheduler")
GRID_LEVELS = 1000  # levels of the training grid (t ~ U{1..N} in steps 1-2, as on the DDPM backbones)
SAMPLER_KEY = "_sampler_config"  # where the training scheduler's config keeps the sampler's settings


def diffusers_classes():
    """The pipeline's classes; ``CosineDPMSolverMultistepScheduler`` needs ``torchsde`` (else diffusers gives a stub)."""
    import diffusers

    try:
        import torchsde  # noqa: F401
    except ImportError:
        raise UserError("Stable Audio Open's sampler needs torchsde: pip install torchsde") from None
    return diffusers


class SeededCosineDPMSolver(diffusers_classes().CosineDPMSolverMultistepScheduler):
    """The cosine DPM-Solver++ (SDE) whose Brownian noise is seeded by ``noise_seed`` when ``step`` gets no
    generator: the pipeline seeds it with its generator's ``initial_seed()``, so the same seed samples alike."""

    noise_seed = 0

    def step(self, model_output, timestep, sample, generator=None, return_dict=True):
        if generator is None:
            generator = torch.Generator().manual_seed(self.noise_seed)
        return super().step(model_output, timestep, sample, generator=generator, return_dict=return_dict)


def model_sampler(config, seed: int = 0) -> SeededCosineDPMSolver:
    """The model card's sampler (CosineDPMSolverMultistepScheduler) with the settings ``training_scheduler`` kept
    in ``config``, its noise seeded."""
    sampler = SeededCosineDPMSolver.from_config(config[SAMPLER_KEY])
    sampler.noise_seed = int(seed)
    return sampler


def training_scheduler(sampler_config: dict, levels: int = GRID_LEVELS):
    """A ``DDPMScheduler`` (v-prediction) on ``levels`` levels of the model's cosine schedule, up to the sampler's
    sigma_max; the sampler's settings are kept in its config (a private key, which other schedulers built
    from it ignore) for ``model_sampler``.

    Example
    -------
    >>> s = training_scheduler({"sigma_max": 500.0})
    >>> round(float(s.alphas_cumprod[-1]) * (1 + 500.0 ** 2), 3), s.config.prediction_type
    (1.0, 'v_prediction')
    """
    from diffusers import DDPMScheduler

    sampler_config = {k: v for k, v in dict(sampler_config).items() if not k.startswith("_")}
    alpha_bars = torch.cos(math.pi / 2 * grid_times(sampler_config.get("sigma_max", 500.0), levels).double()) ** 2
    betas = 1 - alpha_bars / torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
    scheduler = DDPMScheduler(num_train_timesteps=levels, trained_betas=betas.tolist(), prediction_type="v_prediction",
                              clip_sample=False)
    scheduler.register_to_config(**{SAMPLER_KEY: sampler_config})
    return scheduler


def grid_times(sigma_max: float, levels: int = GRID_LEVELS) -> torch.Tensor:
    """The model times t_i = t_max (i + 1) / levels of the training grid, t_max = atan(sigma_max) 2 / pi."""
    return (2 / math.pi * math.atan(sigma_max)) * torch.arange(1, levels + 1, dtype=torch.float64) / levels


class StableAudioBackbone(Backbone):
    """Stable Audio Open: T5 + duration conditioning, a v-diffusion DiT on a stereo Oobleck VAE latent.

    Arguments
    ---------
    vae : diffusers.AutoencoderOobleck
    transformer : diffusers.StableAudioDiTModel (the interface's ``unet``)
    projection_model : diffusers.StableAudioProjectionModel
    text_encoder : transformers.T5EncoderModel (frozen)
    tokenizer : its tokenizer (prompts padded to ``model_max_length``, as the pipeline)
    sampler_config : the folder's scheduler config (CosineDPMSolverMultistepScheduler)
    window_seconds : the longest input of one pass, also the seconds_total it is conditioned on
        (None: the transformer's ``sample_size``, 47.55 s for the published model)
    """

    lora_target_modules = ["to_q", "to_k", "to_v", "to_out.0"]  # self- and cross-attention of every DiT block

    def __init__(self, vae, transformer, projection_model, text_encoder, tokenizer, sampler_config: dict,
                 window_seconds: Optional[float] = None, source: str = ""):
        super().__init__()
        self.vae, self.unet, self.projection_model, self.text_encoder = vae, transformer, projection_model, text_encoder
        self.tokenizer, self.source = tokenizer, source
        self.sample_rate = int(vae.config.sampling_rate)
        self.channels = int(vae.config.audio_channels)
        self.hop_length = int(vae.hop_length)
        longest = transformer.config.sample_size * self.hop_length / self.sample_rate
        self.window_seconds = float(longest if window_seconds is None else window_seconds)
        if not 0 < self.window_seconds <= projection_model.config.max_value:
            raise UserError(f"window_seconds={self.window_seconds:g} does not fit this model: its duration "
                            f"conditioning takes up to {projection_model.config.max_value:g} s")
        self.scheduler = training_scheduler(sampler_config)
        self.register_buffer("times", grid_times(self.scheduler.config[SAMPLER_KEY]["sigma_max"]).float(),
                             persistent=False)
        self.logmel = LogMel(sample_rate=self.sample_rate, n_fft=2048, hop_length=441, n_mels=128, f_max=22050.0)
        self.freeze(self.vae, self.projection_model, self.text_encoder)

    @property
    def window_samples(self) -> int:
        """The window rounded up to whole latent frames."""
        return math.ceil(self.window_seconds * self.sample_rate / self.hop_length - 1e-6) * self.hop_length

    # --- audio <-> latent -------------------------------------------------
    def encode_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform [B, channels, T] (or mono [B, T], put on every channel) -> latent [B, 64, frames, 1], the
        posterior mean (no sample: an edit wants the input)."""
        param = next(self.vae.parameters())
        wav = wav.to(param.device, param.dtype)
        if wav.dim() == 2:
            wav = wav[:, None].expand(-1, self.channels, -1)
        wav = F.pad(wav, (0, max(0, self.window_samples - wav.shape[-1])))[..., : self.window_samples]
        return self.vae.encode(wav).latent_dist.mode()[..., None]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent [B, 64, frames, 1] -> waveform [B, channels, frames * 2048]."""
        param = next(self.vae.parameters())
        return self.vae.decode(z[..., 0].to(param.dtype)).sample

    # --- text -------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, prompts: List[str]) -> TextCond:
        """[projected T5 states, masked; seconds_start token; seconds_total token]: [B, max_length + 2, D]."""
        tokens = self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                                truncation=True, return_tensors="pt")
        device = next(self.text_encoder.parameters()).device
        mask = tokens["attention_mask"].to(device)
        states = self.text_encoder(tokens["input_ids"].to(device), attention_mask=mask)[0]
        projected = self.projection_model(text_hidden_states=states).text_hidden_states * mask[..., None].to(states)
        start, total = self.duration_states(len(prompts))
        return TextCond(torch.cat([projected, start, total], dim=1).float())

    def null_cond(self, cond: TextCond) -> TextCond:
        """Zeros, text and duration tokens alike: the pipeline's unconditional input."""
        return TextCond(torch.zeros_like(cond.hidden))

    def duration_states(self, batch: int):
        """The seconds_start (0) and seconds_total (``window_seconds``) tokens, [batch, 1, D] each."""
        device = next(self.projection_model.parameters()).device
        out = self.projection_model(start_seconds=torch.zeros(batch, device=device),
                                    end_seconds=torch.full((batch,), self.window_seconds, device=device))
        return out.seconds_start_hidden_states, out.seconds_end_hidden_states

    # --- diffusion ----------------------------------------------------------
    def model_time(self, t: torch.Tensor, batch: int, device) -> torch.Tensor:
        """The DiT's timestep: a level of the training grid (integer ``t``) or the model's own time (floating)."""
        t = t.to(device).reshape(-1).expand(batch) if t.numel() == 1 else t.to(device)
        return t.float() if torch.is_floating_point(t) else self.times.to(device)[t.long()]

    def add_noise(self, z0, noise, t):
        """z_t of the grid (integer ``t``) or the cosine sampler's z0 + sigma eps, sigma = tan(pi t / 2) (floating)."""
        if not torch.is_floating_point(t):
            return self.scheduler.add_noise(z0, noise, t)
        sigma = torch.tan(math.pi / 2 * t.to(z0.device, torch.float64)).to(z0.dtype).reshape(-1, 1, 1, 1)
        return z0 + sigma * noise

    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        """v for latents [B, 64, frames, 1] at ``t`` (see ``model_time``) under ``cond``."""
        from diffusers.models.embeddings import get_1d_rotary_pos_embed

        batch, frames = z_t.shape[0], z_t.shape[2]
        start, total = self.duration_states(batch)
        rotary = get_1d_rotary_pos_embed(self.unet.config.attention_head_dim // 2, frames + 1, use_real=True,
                                         repeat_interleave_real=False)
        out = self.unet(z_t[..., 0], self.model_time(t, batch, z_t.device),
                        encoder_hidden_states=cond.hidden.to(z_t.dtype),
                        global_hidden_states=torch.cat([start, total], dim=2).to(z_t.dtype),
                        rotary_embedding=tuple(r.to(z_t.device) for r in rotary), return_dict=False)[0]
        return out[..., None]

    # --- folders ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str = HUB_ID, window_seconds: Optional[float] = None,
                        local_files_only: Optional[bool] = None, **kwargs) -> "StableAudioBackbone":
        """Load the diffusers-layout folder (a hub id or a local folder); ``source="random"`` builds the
        published size with random weights (timing runs), ``"random:tiny"`` the tiny one."""
        diffusers = diffusers_classes()
        from transformers import AutoTokenizer, T5EncoderModel

        if source in ("random", "random:tiny"):
            return cls.build_random("tiny" if source == "random:tiny" else "published", window_seconds=window_seconds)
        patterns = ["model_index.json"] + [f"{c}/*.json" for c in COMPONENTS] + ["tokenizer/*.model"]
        patterns += [f"{c}/*.safetensors" for c in ("vae", "transformer", "projection_model", "text_encoder")]
        folder = resolve_checkpoint_folder(source, "Stable Audio Open checkpoint", allow_patterns=patterns,
                                           local_files_only=local_files_only)
        require_components(folder, COMPONENTS, "a Stable Audio Open checkpoint", HUB_ID)
        try:
            parts = dict(
                vae=diffusers.AutoencoderOobleck.from_pretrained(folder / "vae", torch_dtype=torch.float32),
                transformer=diffusers.StableAudioDiTModel.from_pretrained(folder / "transformer",
                                                                          torch_dtype=torch.float32),
                projection_model=diffusers.StableAudioProjectionModel.from_pretrained(
                    folder / "projection_model", torch_dtype=torch.float32),
                text_encoder=T5EncoderModel.from_pretrained(folder / "text_encoder", dtype=torch.float32),
                tokenizer=AutoTokenizer.from_pretrained(folder / "tokenizer"),
                sampler_config=diffusers.CosineDPMSolverMultistepScheduler.load_config(folder / "scheduler"),
            )
        except (OSError, ValueError) as err:
            raise UserError(f"cannot load the Stable Audio Open checkpoint '{source}' "
                            f"({str(err).splitlines()[0]})") from None
        model = cls(**parts, window_seconds=window_seconds, source=str(source))
        logger.info(f"loaded Stable Audio Open from {folder}: DiT {count_parameters(model.unet) / 1e6:.0f} M "
                    f"parameters, window {model.window_seconds:g} s")
        return model

    @classmethod
    def build_random(cls, size: str = "published", seed: int = 0,
                     window_seconds: Optional[float] = None) -> "StableAudioBackbone":
        """Random weights at the published widths (DiT 1057 M, Oobleck VAE, T5-base) or tiny ones (``"tiny"``).
        The tokenizer is a small one built in code (T5-base's is a download)."""
        diffusers = diffusers_classes()
        from transformers import T5Config, T5EncoderModel

        from audio_editing.backbones.tango import TINY_T5_CONFIG, tiny_t5_tokenizer

        if size not in ("published", "tiny"):
            raise ValueError(f"size must be 'published' or 'tiny', got {size!r}")
        published = size == "published"
        torch.manual_seed(seed)
        tokenizer = tiny_t5_tokenizer()
        tokenizer.model_max_length = TOKENIZER_MAX_LENGTH
        t5 = T5_BASE_CONFIG if published else dict(TINY_T5_CONFIG, vocab_size=len(tokenizer))
        return cls(diffusers.AutoencoderOobleck(**({} if published else TINY_VAE_CONFIG)),
                   diffusers.StableAudioDiTModel(**({} if published else TINY_DIT_CONFIG)),
                   diffusers.StableAudioProjectionModel(**(PROJECTION_CONFIG if published else TINY_PROJECTION_CONFIG)),
                   T5EncoderModel(T5Config(**t5)), tokenizer, dict(diffusers.CosineDPMSolverMultistepScheduler().config),
                   window_seconds=window_seconds, source="random" if published else "tiny")


# The published parts' configs (stabilityai/stable-audio-open-1.0): the DiT and the Oobleck VAE are diffusers'
# defaults (StableAudioDiTModel: 24 layers, 24 heads of 64, 12 key/value heads, 64 latent channels, 1024 frames;
# AutoencoderOobleck: stereo 44.1 kHz, hop 2048); the text encoder is T5-base's, prompts padded to 128 tokens.
PROJECTION_CONFIG = dict(text_encoder_dim=768, conditioning_dim=768, min_value=0, max_value=512)
T5_BASE_CONFIG = dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                      feed_forward_proj="relu", relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
TOKENIZER_MAX_LENGTH = 128
# The same shapes at tiny widths (tests, doctests): hop 2048 as published, 8 latent channels.
TINY_VAE_CONFIG = dict(encoder_hidden_size=16, downsampling_ratios=[2, 4, 4, 8, 8], channel_multiples=[1, 1, 1, 1, 1],
                       decoder_channels=4, decoder_input_channels=8, audio_channels=2, sampling_rate=44100)
TINY_DIT_CONFIG = dict(sample_size=32, in_channels=8, num_layers=2, attention_head_dim=8, num_attention_heads=2,
                       num_key_value_attention_heads=1, out_channels=8, cross_attention_dim=16, time_proj_dim=16,
                       global_states_input_dim=32, cross_attention_input_dim=16)
TINY_PROJECTION_CONFIG = dict(text_encoder_dim=16, conditioning_dim=16, min_value=0, max_value=512)
