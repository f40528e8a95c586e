"""AudioLDM (cvssp/audioldm-s-full-v2, -s-full, -m-full, -l-full) in diffusers layout.

A folder (or hub snapshot) holds ``vae/`` (AutoencoderKL on log-mel), ``unet/`` (UNet2DConditionModel with
``class_embed_type="simple_projection"`` and ``class_embeddings_concat``), ``vocoder/`` (SpeechT5HifiGan),
``text_encoder/`` (ClapTextModelWithProjection), ``tokenizer/`` (RoBERTa) and ``scheduler/``. Each part is
loaded on its own (``AudioLDMPipeline`` is deprecated in diffusers).

Conditioning is **one vector per prompt**: the CLAP text embedding, L2-normalised (as the pipeline does),
fed to the UNet as ``class_labels`` (FiLM-style, concatenated to the time embedding); there is no
cross-attention to text. So ``TextCond.hidden`` is [B, 512] with no mask, and step 1 of the editor
optimises that 512-d vector directly (it is not re-normalised during or after optimisation; the
interpolation of step 3 is a plain lerp between e_opt and the normalised e_target).
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

HUB_IDS = ("cvssp/audioldm-s-full-v2", "cvssp/audioldm", "cvssp/audioldm-m-full", "cvssp/audioldm-l-full")
COMPONENTS = ("vae", "unet", "vocoder", "text_encoder", "tokenizer", "scheduler")
# AudioLDM is trained on 10.24 s clips (1024 mel frames; latent 8 x 256 x 16); the diffusers pipeline
# defaults to the UNet's sample_size (5.12 s) but any multiple of 0.32 s works.
WINDOW_SECONDS = 10.24


def resolve_audioldm_folder(source: str, local_files_only: Optional[bool] = None) -> Path:
    """A diffusers-layout folder: local as is, or a hub snapshot of only what loading needs.

    Safetensors are fetched when the repo has them; a part without them falls back to its ``.bin``.
    """
    patterns = ["model_index.json"] + [f"{c}/*.json" for c in COMPONENTS] + ["tokenizer/*.txt"]
    patterns += [f"{c}/*.safetensors" for c in ("vae", "unet", "vocoder", "text_encoder")]
    folder = resolve_checkpoint_folder(source, "AudioLDM checkpoint", allow_patterns=patterns,
                                       local_files_only=local_files_only)
    lacking = [c for c in ("vae", "unet", "vocoder", "text_encoder")
               if (folder / c).is_dir() and not any((folder / c).glob("*.safetensors"))
               and not any((folder / c).glob("*.bin"))]
    if lacking and not Path(str(source)).expanduser().is_dir():
        folder = resolve_checkpoint_folder(source, "AudioLDM checkpoint",
                                           allow_patterns=patterns + [f"{c}/*.bin" for c in lacking],
                                           local_files_only=local_files_only)
    return folder


class AudioLDMBackbone(AudioLDMLineageBackbone):
    """AudioLDM: a normalised CLAP text vector conditions an epsilon-prediction UNet on mel latents.

    Arguments
    ---------
    vae : diffusers.AutoencoderKL
    unet : diffusers.UNet2DConditionModel (``class_labels`` conditioning)
    scheduler : diffusers.DDPMScheduler built from the folder's scheduler config (training schedule)
    text_encoder : transformers.ClapTextModelWithProjection (frozen)
    tokenizer : RoBERTa tokenizer
    vocoder : transformers.SpeechT5HifiGan
    window_seconds : longest input of one pass (AudioLDM trains on 10.24 s)

    Example
    -------
    >>> bb = AudioLDMBackbone.build_tiny()
    >>> cond = bb.encode_text(["a dog barks"])
    >>> tuple(cond.hidden.shape), cond.mask is None, round(cond.hidden.norm().item(), 4)
    ((1, 16), True, 1.0)
    """

    def __init__(self, vae, unet, scheduler, text_encoder, tokenizer, vocoder, window_seconds: float = WINDOW_SECONDS,
                 logmel: Optional[LogMel] = None, source: str = ""):
        super().__init__()
        self.vae, self.unet, self.text_encoder = vae, unet, text_encoder
        self.scheduler, self.tokenizer, self.source = scheduler, tokenizer, source
        self.vocoder = HifiGanVocoder(vocoder)
        sample_rate = int(getattr(vocoder.config, "sampling_rate", 16000))
        self.logmel = logmel or LogMel(sample_rate=sample_rate, n_mels=vocoder.config.model_in_dim)
        self.sample_rate = self.logmel.sample_rate
        self.window_seconds = float(window_seconds)
        self.check_window(WINDOW_SECONDS)
        self.freeze(self.vae, self.text_encoder, self.vocoder)

    # --- text -------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, prompts: List[str]) -> TextCond:
        """CLAP ``text_embeds``, L2-normalised: [B, D] (the empty prompt gives the unconditional vector)."""
        tokens = self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                                truncation=True, return_tensors="pt")
        device = next(self.text_encoder.parameters()).device
        embeds = self.text_encoder(input_ids=tokens["input_ids"].to(device),
                                   attention_mask=tokens["attention_mask"].to(device)).text_embeds
        return TextCond(F.normalize(embeds.float(), dim=-1))

    # --- diffusion ----------------------------------------------------------
    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        if t.dim() == 0:
            t = t.expand(z_t.shape[0])
        return self.unet(z_t, t, encoder_hidden_states=None, class_labels=cond.hidden).sample

    # --- folders ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str = "cvssp/audioldm-s-full-v2", window_seconds: Optional[float] = None,
                        local_files_only: Optional[bool] = None, **kwargs) -> "AudioLDMBackbone":
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import AutoTokenizer, ClapTextModelWithProjection, SpeechT5HifiGan

        folder = resolve_audioldm_folder(source, local_files_only)
        require_components(folder, COMPONENTS, "an AudioLDM checkpoint", HUB_IDS[0])
        try:
            parts = dict(
                vae=AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32),
                unet=UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32),
                scheduler=DDPMScheduler.from_pretrained(folder / "scheduler"),
                text_encoder=ClapTextModelWithProjection.from_pretrained(folder / "text_encoder", dtype=torch.float32),
                tokenizer=AutoTokenizer.from_pretrained(folder / "tokenizer"),
                vocoder=SpeechT5HifiGan.from_pretrained(folder / "vocoder", dtype=torch.float32),
            )
        except (OSError, ValueError) as err:
            raise UserError(f"cannot load the AudioLDM checkpoint '{source}' ({str(err).splitlines()[0]})") from None
        if parts["unet"].config.class_embed_type != "simple_projection":
            raise UserError(f"'{source}' is not an AudioLDM UNet (class_embed_type "
                            f"{parts['unet'].config.class_embed_type!r}, expected 'simple_projection')")
        model = cls(**parts, window_seconds=WINDOW_SECONDS if window_seconds is None else window_seconds,
                    source=str(source))
        logger.info(f"loaded AudioLDM from {folder}: UNet {count_parameters(model.unet) / 1e6:.0f} M parameters, "
                    f"{model.prediction_type}")
        return model

    def save_pretrained(self, folder) -> None:
        """Write the diffusers layout (each part's ``save_pretrained``)."""
        folder = Path(folder)
        for name in ("vae", "unet", "scheduler", "text_encoder", "tokenizer"):
            getattr(self, name).save_pretrained(folder / name)
        self.vocoder.model.save_pretrained(folder / "vocoder")

    @classmethod
    def build_tiny(cls, seed: int = 0, window_seconds: float = 0.32) -> "AudioLDMBackbone":
        """A random AudioLDM-shaped model at tiny widths (doctests and tests)."""
        from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
        from transformers import ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig

        from audio_editing.backbones.tango import TINY_HIFIGAN_CONFIG

        torch.manual_seed(seed)
        tokenizer = tiny_roberta_tokenizer()
        text_encoder = ClapTextModelWithProjection(ClapTextConfig(**TINY_CLAP_TEXT_CONFIG, vocab_size=len(tokenizer)))
        unet = UNet2DConditionModel(**tiny_unet_config(TINY_CLAP_TEXT_CONFIG["projection_dim"]))
        vae = AutoencoderKL(**TINY_VAE_CONFIG)
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**TINY_HIFIGAN_CONFIG))
        scheduler = DDIMScheduler(**AUDIOLDM_SCHEDULER_CONFIG)
        return cls(vae, unet, scheduler, text_encoder, tokenizer, vocoder, window_seconds=window_seconds, source="tiny")


# The AudioLDM schedule (diffusers' conversion of the original checkpoints: scaled-linear betas
# 0.0015-0.0195 over 1000 steps, epsilon prediction, stored as a DDIMScheduler config).
AUDIOLDM_SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0195,
                                 beta_schedule="scaled_linear", prediction_type="epsilon", clip_sample=False,
                                 set_alpha_to_one=False, steps_offset=1)
# AudioLDM-S (cvssp/audioldm-s-full-v2) UNet, from diffusers' conversion defaults: model_channels 128,
# channel_mult [1, 2, 3, 5], attention at 2/4/8x downsampling, FiLM-concat CLAP conditioning (512).
AUDIOLDM_S_UNET_CONFIG = dict(
    sample_size=128, in_channels=8, out_channels=8,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    block_out_channels=[128, 256, 384, 640], layers_per_block=2, cross_attention_dim=[128, 256, 384, 640],
    class_embed_type="simple_projection", projection_class_embeddings_input_dim=512, class_embeddings_concat=True,
)
AUDIOLDM_VAE_CONFIG = dict(in_channels=1, out_channels=1, down_block_types=["DownEncoderBlock2D"] * 3,
                           up_block_types=["UpDecoderBlock2D"] * 3, block_out_channels=[128, 256, 512],
                           latent_channels=8, layers_per_block=2, sample_size=512, scaling_factor=1.0)
# laion/clap-htsat-unfused text tower (RoBERTa-base + 512-d projection): AudioLDM's text encoder.
CLAP_TEXT_CONFIG = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                        projection_dim=512, projection_hidden_act="relu")

TINY_CLAP_TEXT_CONFIG = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                             max_position_embeddings=80, type_vocab_size=1, pad_token_id=1, projection_dim=16)
TINY_VAE_CONFIG = dict(in_channels=1, out_channels=1, down_block_types=["DownEncoderBlock2D"] * 3,
                       up_block_types=["UpDecoderBlock2D"] * 3, block_out_channels=[8, 16, 16], latent_channels=8,
                       layers_per_block=1, norm_num_groups=4, sample_size=64, scaling_factor=1.5)


def tiny_unet_config(class_dim: int = 16) -> dict:
    """AudioLDM's UNet config at tiny widths: same keys and conditioning path."""
    config = dict(AUDIOLDM_S_UNET_CONFIG)
    config.update(sample_size=32, down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                  up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], block_out_channels=[16, 32],
                  cross_attention_dim=[16, 32], layers_per_block=1, attention_head_dim=4, norm_num_groups=8,
                  projection_class_embeddings_input_dim=class_dim)
    return config


def tiny_roberta_tokenizer(max_length: int = 64):
    """A byte-level BPE (RoBERTa) tokenizer over single characters, built in code (no download)."""
    from transformers import RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,'-\u0120":
        vocab[ch] = len(vocab)
    return RobertaTokenizer(vocab=vocab, merges=[], model_max_length=max_length)
