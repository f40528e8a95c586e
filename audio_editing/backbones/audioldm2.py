"""AudioLDM 2 (cvssp/audioldm2, cvssp/audioldm2-large, cvssp/audioldm2-music) in diffusers layout.

A folder holds ``vae/``, ``unet/`` (``AudioLDM2UNet2DConditionModel``: per transformer block a
self-attention and two cross-attentions), ``vocoder/``, ``text_encoder/`` (CLAP ``ClapModel``),
``text_encoder_2/`` (FLAN-T5 encoder), ``projection_model/`` (``AudioLDM2ProjectionModel``),
``language_model/`` (GPT-2), ``tokenizer/``, ``tokenizer_2/``, ``scheduler/`` (and ``feature_extractor/``,
unused here). Each part is loaded on its own. (``cvssp/audioldm2-speech``, whose second encoder is VITS,
is not supported.)

How a prompt conditions the UNet (as ``AudioLDM2Pipeline.encode_prompt``): CLAP's pooled text vector and
the T5 token states are projected to GPT-2's width, wrapped in learned SOS/EOS vectors and concatenated;
GPT-2 then generates 8 new hidden states ("AudioMAE" tokens). The UNet cross-attends to those 8
states (``encoder_hidden_states``) and, separately, to the raw T5 states (``encoder_hidden_states_1``
with the T5 mask).

**What step 1 optimises.** Exactly the two tensors the UNet sees: the 8 GPT-2 generated states and
the T5 sequence. They are packed into one ``TextCond`` so the editor needs nothing new: ``hidden`` is
[B, 8 + L, W] with W = max(GPT-2 width, T5 width) -- rows 0..7 hold the generated states (zero-padded
to W columns), rows 8.. the T5 states -- and ``mask`` is [B, 8 + L] (ones for the generated rows, then the
T5 mask). The zero-padding columns never reach the UNet, so their gradient is zero and Adam leaves them
at zero. CLAP, the projection and GPT-2 are upstream of both and stay fixed; interpolation (step 3) is
the same lerp of both parts.
"""

import logging
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F

from audio_editing.backbones.base import TextCond
from audio_editing.backbones.mel_vae import AudioLDMLineageBackbone
from audio_editing.backbones.mel import LogMel
from audio_editing.backbones.tango import count_parameters, require_components, resolve_checkpoint_folder
from audio_editing.backbones.vocoders import HifiGanVocoder
from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

HUB_IDS = ("cvssp/audioldm2", "cvssp/audioldm2-large", "cvssp/audioldm2-music")
COMPONENTS = ("vae", "unet", "vocoder", "text_encoder", "text_encoder_2", "projection_model", "language_model",
              "tokenizer", "tokenizer_2", "scheduler")
WEIGHTED = ("vae", "unet", "vocoder", "text_encoder", "text_encoder_2", "projection_model", "language_model")
WINDOW_SECONDS = 10.24
GENERATED_TOKENS = 8  # language_model.config.max_new_tokens in the published checkpoints


class AudioLDM2Backbone(AudioLDMLineageBackbone):
    """AudioLDM 2: GPT-2-generated states and T5 states condition the UNet through two cross-attentions.

    Example
    -------
    >>> bb = AudioLDM2Backbone.build_tiny()
    >>> cond = bb.encode_text(["a dog barks"])
    >>> cond.hidden.shape[1] - cond.mask.shape[1], int(cond.mask[0, :8].sum())
    (0, 8)
    """

    def __init__(self, vae, unet, scheduler, text_encoder, tokenizer, text_encoder_2, tokenizer_2, projection_model,
                 language_model, vocoder, window_seconds: float = WINDOW_SECONDS, source: str = "",
                 generated_tokens: Optional[int] = None):
        super().__init__()
        self.vae, self.unet, self.scheduler = vae, unet, scheduler
        self.text_encoder, self.text_encoder_2 = text_encoder, text_encoder_2
        self.tokenizer, self.tokenizer_2 = tokenizer, tokenizer_2
        self.projection_model, self.language_model = projection_model, language_model
        self.vocoder = HifiGanVocoder(vocoder)
        self.source = source
        self.logmel = LogMel(sample_rate=int(getattr(vocoder.config, "sampling_rate", 16000)),
                             n_mels=vocoder.config.model_in_dim)
        self.sample_rate = self.logmel.sample_rate
        self.window_seconds = float(window_seconds)
        self.generated_tokens = int(generated_tokens or getattr(language_model.config, "max_new_tokens", None)
                                    or GENERATED_TOKENS)
        self.gpt_dim = language_model.config.hidden_size
        self.t5_dim = text_encoder_2.config.d_model
        self.width = max(self.gpt_dim, self.t5_dim)
        self.check_window(WINDOW_SECONDS)
        self.freeze(self.vae, self.text_encoder, self.text_encoder_2, self.projection_model, self.language_model,
                    self.vocoder)

    # --- text -------------------------------------------------------------
    def _device(self):
        return next(self.text_encoder_2.parameters()).device

    @torch.no_grad()
    def _encode(self, prompts: List[str], t5_length: Optional[int] = None) -> TextCond:
        device = self._device()
        clap_tokens = self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                                     truncation=True, return_tensors="pt").to(device)
        clap = self.text_encoder.get_text_features(input_ids=clap_tokens["input_ids"],
                                                   attention_mask=clap_tokens["attention_mask"])
        clap = getattr(clap, "pooler_output", clap)[:, None, :]  # transformers 5 returns a model output
        clap_mask = torch.ones(clap.shape[:2], dtype=torch.long, device=device)
        padding = dict(padding="max_length", max_length=t5_length) if t5_length else dict(padding=True)
        t5_tokens = self.tokenizer_2(list(prompts), truncation=True, return_tensors="pt",
                                     **({"max_length": self.tokenizer_2.model_max_length} | padding)).to(device)
        t5 = self.text_encoder_2(input_ids=t5_tokens["input_ids"], attention_mask=t5_tokens["attention_mask"])[0]
        projected = self.projection_model(hidden_states=clap, hidden_states_1=t5, attention_mask=clap_mask,
                                          attention_mask_1=t5_tokens["attention_mask"])
        generated = self.generate(projected.hidden_states, projected.attention_mask)
        return self.pack(generated, t5, t5_tokens["attention_mask"])

    def generate(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """GPT-2 continues the projected sequence for ``generated_tokens`` steps; returns the new last-layer states."""
        for _ in range(self.generated_tokens):
            out = self.language_model(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True)
            embeds = torch.cat([embeds, out.hidden_states[-1][:, -1:]], dim=1)
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        return embeds[:, -self.generated_tokens:]

    def pack(self, generated: torch.Tensor, t5: torch.Tensor, t5_mask: torch.Tensor) -> TextCond:
        """[generated (zero-padded to the common width); T5 states] with mask [ones; T5 mask]."""
        hidden = torch.cat([F.pad(generated.float(), (0, self.width - generated.shape[-1])),
                            F.pad(t5.float(), (0, self.width - t5.shape[-1]))], dim=1)
        mask = torch.cat([t5_mask.new_ones(t5_mask.shape[0], generated.shape[1]), t5_mask], dim=1)
        return TextCond(hidden, mask)

    def unpack(self, cond: TextCond):
        n = self.generated_tokens
        return (cond.hidden[:, :n, : self.gpt_dim], cond.hidden[:, n:, : self.t5_dim], cond.mask[:, n:])

    def encode_text(self, prompts: List[str]) -> TextCond:
        return self._encode(prompts)

    def null_cond(self, cond: TextCond) -> TextCond:
        """The empty prompt with T5 padded to ``cond``'s length, as the pipeline builds its negative prompt."""
        empty = self._encode([""] * cond.batch_size, t5_length=cond.hidden.shape[1] - self.generated_tokens)
        return TextCond(empty.hidden.to(cond.hidden), empty.mask.to(cond.mask))

    # --- diffusion ----------------------------------------------------------
    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        if t.dim() == 0:
            t = t.expand(z_t.shape[0])
        generated, t5, t5_mask = self.unpack(cond)
        return self.unet(z_t, t, encoder_hidden_states=generated, encoder_hidden_states_1=t5,
                         encoder_attention_mask_1=t5_mask).sample

    # --- folders ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str = "cvssp/audioldm2", window_seconds: Optional[float] = None,
                        local_files_only: Optional[bool] = None, **kwargs) -> "AudioLDM2Backbone":
        from diffusers import AutoencoderKL, DDPMScheduler
        from diffusers.pipelines.audioldm2.modeling_audioldm2 import (AudioLDM2ProjectionModel,
                                                                      AudioLDM2UNet2DConditionModel)
        from transformers import AutoTokenizer, ClapModel, GPT2Model, SpeechT5HifiGan, T5EncoderModel

        patterns = ["model_index.json"] + [f"{c}/*.json" for c in COMPONENTS] + ["tokenizer*/*.txt",
                                                                                  "tokenizer*/*.model"]
        patterns += [f"{c}/*.safetensors" for c in WEIGHTED]
        folder = resolve_checkpoint_folder(source, "AudioLDM 2 checkpoint", allow_patterns=patterns,
                                           local_files_only=local_files_only)
        require_components(folder, COMPONENTS, "an AudioLDM 2 checkpoint", HUB_IDS[0])
        try:
            parts = dict(
                vae=AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32),
                unet=AudioLDM2UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32),
                scheduler=DDPMScheduler.from_pretrained(folder / "scheduler"),
                text_encoder=ClapModel.from_pretrained(folder / "text_encoder", dtype=torch.float32),
                tokenizer=AutoTokenizer.from_pretrained(folder / "tokenizer"),
                text_encoder_2=T5EncoderModel.from_pretrained(folder / "text_encoder_2", dtype=torch.float32),
                tokenizer_2=AutoTokenizer.from_pretrained(folder / "tokenizer_2"),
                projection_model=AudioLDM2ProjectionModel.from_pretrained(folder / "projection_model",
                                                                          torch_dtype=torch.float32),
                language_model=GPT2Model.from_pretrained(folder / "language_model", dtype=torch.float32),
                vocoder=SpeechT5HifiGan.from_pretrained(folder / "vocoder", dtype=torch.float32),
            )
        except (OSError, ValueError) as err:
            raise UserError(f"cannot load the AudioLDM 2 checkpoint '{source}' ({str(err).splitlines()[0]})") from None
        model = cls(**parts, window_seconds=WINDOW_SECONDS if window_seconds is None else window_seconds,
                    source=str(source))
        logger.info(f"loaded AudioLDM 2 from {folder}: UNet {count_parameters(model.unet) / 1e6:.0f} M parameters, "
                    f"{model.prediction_type}")
        return model

    def save_pretrained(self, folder) -> None:
        """Write the diffusers layout (each part's ``save_pretrained``)."""
        folder = Path(folder)
        for name in ("vae", "unet", "scheduler", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2",
                     "projection_model", "language_model"):
            getattr(self, name).save_pretrained(folder / name)
        self.vocoder.model.save_pretrained(folder / "vocoder")

    @classmethod
    def build_tiny(cls, seed: int = 0, window_seconds: float = 0.32) -> "AudioLDM2Backbone":
        """A random AudioLDM 2-shaped model at tiny widths (doctests and tests)."""
        from diffusers import AutoencoderKL, DDIMScheduler
        from diffusers.pipelines.audioldm2.modeling_audioldm2 import (AudioLDM2ProjectionModel,
                                                                      AudioLDM2UNet2DConditionModel)
        from transformers import (ClapConfig, ClapModel, GPT2Config, GPT2Model, SpeechT5HifiGan,
                                  SpeechT5HifiGanConfig, T5Config, T5EncoderModel)

        from audio_editing.backbones.audioldm import (AUDIOLDM_SCHEDULER_CONFIG, TINY_VAE_CONFIG,
                                                      tiny_roberta_tokenizer)
        from audio_editing.backbones.tango import TINY_HIFIGAN_CONFIG, TINY_T5_CONFIG, tiny_t5_tokenizer

        torch.manual_seed(seed)
        tokenizer, tokenizer_2 = tiny_roberta_tokenizer(), tiny_t5_tokenizer()
        clap = ClapModel(ClapConfig(**tiny_clap_config(len(tokenizer))))
        t5 = T5EncoderModel(T5Config(**TINY_T5_CONFIG, vocab_size=len(tokenizer_2)))
        gpt = GPT2Model(GPT2Config(n_embd=12, n_layer=1, n_head=2, n_positions=128, vocab_size=8, max_new_tokens=8))
        projection = AudioLDM2ProjectionModel(text_encoder_dim=clap.config.projection_dim,
                                              text_encoder_1_dim=t5.config.d_model, langauge_model_dim=12)
        unet = AudioLDM2UNet2DConditionModel(**tiny_unet_config(gpt_dim=12, t5_dim=t5.config.d_model))
        return cls(AutoencoderKL(**TINY_VAE_CONFIG), unet, DDIMScheduler(**AUDIOLDM_SCHEDULER_CONFIG), clap, tokenizer,
                   t5, tokenizer_2, projection, gpt, SpeechT5HifiGan(SpeechT5HifiGanConfig(**TINY_HIFIGAN_CONFIG)),
                   window_seconds=window_seconds, source="tiny")


# cvssp/audioldm2 unet/config.json (the keys that differ from the defaults): 347 M parameters
# (model card: "350M"); per block a self-attention, a cross-attention to the 8 GPT-2 states (768) and one
# to the T5 states (1024).
AUDIOLDM2_UNET_CONFIG = dict(
    sample_size=256, in_channels=8, out_channels=8, block_out_channels=[128, 256, 384, 640], layers_per_block=2,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    cross_attention_dim=[[None, 768, 1024]] * 4, attention_head_dim=8, transformer_layers_per_block=1,
)


def tiny_clap_config(vocab_size: int) -> dict:
    """A tiny ``ClapConfig`` (text and audio towers) with the published structure."""
    return dict(text_config=dict(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=80, projection_dim=8),
                audio_config=dict(hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2],
                                  patch_embeds_hidden_size=16, num_mel_bins=64, spec_size=256, window_size=4,
                                  projection_dim=8),
                projection_dim=8)


def tiny_unet_config(gpt_dim: int = 12, t5_dim: int = 16) -> dict:
    """cvssp/audioldm2's UNet config (two cross-attentions per block: GPT-2 states, T5 states) at tiny widths."""
    config = dict(AUDIOLDM2_UNET_CONFIG)
    config.update(sample_size=32, block_out_channels=[16, 32], layers_per_block=1,
                  down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                  up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
                  cross_attention_dim=[[None, gpt_dim, t5_dim]] * 2, attention_head_dim=4, norm_num_groups=8)
    return config
