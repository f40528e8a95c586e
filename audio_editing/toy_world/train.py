"""Training of the embedded ``toy_world`` model: data, log-mel VAE, evaluator, UNet.

The recipe ``recipes/toy_world/train.py`` calls :func:`train_toy_world`, which runs
the stages below in order. Each stage saves its result under ``save_folder`` as
soon as it is done, and a stage whose result is already there is skipped, so a
killed run resumes at the stage it was in.

1. ``clips``: training clips from :func:`audio_editing.toy_world.generate_examples`
   (several train-split captions per clip, all but the first in ``recaption_vocabulary``, the audio
   rendered once and kept as log-mel), plus held-out clips with held-out-split captions; rendered in worker
   processes when ``num_workers > 1`` (``clips.py``).
2. ``vae``: an ``AutoencoderKL`` on the 1-channel log-mel (L1 + tiny KL); its
   ``scaling_factor`` is set to 1 / std of the training latents.
3. ``evaluator``: a :class:`~audio_editing.toy_world.evaluator.ToyClap` trained
   CLIP-style (symmetric InfoNCE) on (clip, caption) pairs.
4. ``unet``: a ``UNet2DConditionModel`` on the 2x2-folded latent, v-prediction,
   caption dropout to ``""`` (the classifier-free-guidance null prompt), with an
   exponential moving average of its weights (the EMA weights are the ones kept).
5. ``model``: the model folder (``save_components`` layout, fp16 weights) with the
   evaluator in ``model/evaluator``.

With ``init_model`` (a model folder, e.g. ``embedded:toy_world``) training continues
from that model: its VAE (with its ``scaling_factor``) and its evaluator are kept
as they are, its UNet (or ``init_unet``, a UNet trained on from it) and scheduler start the UNet stage, and
``model`` keeps its ``backbone.json``; the architecture keys of the hparams are then unused.

Everything is deterministic from ``seed``: the clips depend only on ``seed`` and
``data_chunk_size`` (not on ``num_workers``), and each stage seeds its own
initialisation and batch sampling.

The validation numbers logged on the way (:func:`~audio_editing.toy_world.checks.log_mel_snr_db`,
:func:`~audio_editing.toy_world.checks.evaluator_retrieval_on_mels`) are measured by ``checks.py``.
"""

import contextlib
import copy
import json
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from audio_editing import toy_world
from audio_editing.backbones.base import TextCond
from audio_editing.errors import UserError
from audio_editing.registry import resolve_source
from audio_editing.toy_world.checks import evaluator_retrieval_on_mels, log_mel_snr_db
from audio_editing.toy_world.clips import ClipSet, _batches, make_clip_set, worker_pool
from audio_editing.toy_world.evaluator import ToyClap, evaluator_audio_embedding
from audio_editing.toy_world.model import (CONFIG_NAME, TEXT_ENCODER_SOURCE, ToyBackbone, load_text_encoder,
                                           save_components)

STAGE_SEED_KEYS = {"vae": 1, "evaluator": 2, "unet": 3}


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def build_vae(channels, latent_channels: int = 8, layers_per_block: int = 1, norm_groups: int = 8):
    """``AutoencoderKL`` on 1-channel log-mel, time and frequency /2 per block after the first.

    Example
    -------
    >>> vae = build_vae([8, 16, 16], latent_channels=4)
    >>> vae.encode(torch.zeros(1, 1, 64, 64)).latent_dist.mode().shape
    torch.Size([1, 4, 16, 16])
    """
    from diffusers import AutoencoderKL

    blocks = len(channels)
    return AutoencoderKL(in_channels=1, out_channels=1, latent_channels=latent_channels,
                         down_block_types=("DownEncoderBlock2D",) * blocks,
                         up_block_types=("UpDecoderBlock2D",) * blocks,
                         block_out_channels=tuple(channels), layers_per_block=layers_per_block,
                         norm_num_groups=norm_groups, mid_block_add_attention=False)


def build_unet(channels, in_channels: int, layers_per_block: int = 1, attention_head_dim: int = 32,
               norm_groups: int = 32, cross_attention_dim: int = 384):
    """``UNet2DConditionModel`` whose top block has no attention and the others cross-attend to text."""
    from diffusers import UNet2DConditionModel

    deeper = len(channels) - 1
    return UNet2DConditionModel(
        in_channels=in_channels, out_channels=in_channels, block_out_channels=tuple(channels),
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * deeper,
        up_block_types=("CrossAttnUpBlock2D",) * deeper + ("UpBlock2D",),
        layers_per_block=layers_per_block, cross_attention_dim=cross_attention_dim,
        attention_head_dim=attention_head_dim, norm_num_groups=norm_groups,
    )


def build_scheduler(num_train_timesteps: int = 1000):
    """The training schedule: cosine betas, v-prediction, no x0 clipping, trailing timesteps.

    ``clip_sample=False`` and ``timestep_spacing="trailing"`` carry over to the
    ``DDIMScheduler.from_config`` used for sampling (latents are not in [-1, 1],
    and the first sampling step should start at the last training timestep).
    """
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                         prediction_type="v_prediction", clip_sample=False, timestep_spacing="trailing")


def build_evaluator(channels, embed_dim: int) -> ToyClap:
    """A fresh :class:`ToyClap` over the frozen sentence encoder."""
    text_encoder, tokenizer = load_text_encoder(TEXT_ENCODER_SOURCE)
    config = dict(sample_rate=toy_world.SAMPLE_RATE, channels=list(channels), embed_dim=embed_dim,
                  text_encoder=TEXT_ENCODER_SOURCE)
    return ToyClap(text_encoder, tokenizer, config)


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class ExponentialMovingAverage:
    """A copy of a module whose weights follow an exponential moving average of its weights.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so
    the initial weights are forgotten quickly in short runs.

    Example
    -------
    >>> layer = torch.nn.Linear(1, 1, bias=False)
    >>> _ = layer.weight.data.fill_(0.0)
    >>> ema = ExponentialMovingAverage(layer, decay=0.999)
    >>> _ = layer.weight.data.fill_(1.0)
    >>> ema.update(layer)  # the first update decays by 0.1 only
    >>> round(ema.module.weight.item(), 3)
    0.9
    """

    def __init__(self, module: torch.nn.Module, decay: float):
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.decay = decay
        self.num_updates = 0

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        self.num_updates += 1
        for average, current in zip(self.module.parameters(), module.parameters()):
            average.lerp_(current, 1.0 - decay)
        for average, current in zip(self.module.buffers(), module.buffers()):
            average.copy_(current)


# --------------------------------------------------------------------------
# Optimisation loop shared by the stages
# --------------------------------------------------------------------------


@dataclass
class OptimisationSettings:
    """How one stage optimises: AdamW with linear warm-up and cosine decay.

    Attributes
    ----------
    steps, lr, warmup_steps, weight_decay : the optimiser schedule
    max_grad_norm : float
        Gradient-norm clipping (non-positive: none).
    log_interval : int
        Steps per logged mean loss.
    autocast_bf16 : bool
        Run the loss under bfloat16 autocast.
    progress : bool
        Show a progress bar.
    """

    steps: int
    lr: float
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    log_interval: int = 50
    autocast_bf16: bool = False
    progress: bool = True


def optimise(parameters, compute_loss: Callable[[int], torch.Tensor], settings: OptimisationSettings,
             device: torch.device, name: str, log: Callable[[dict, dict], None],
             after_step: Optional[Callable[[], None]] = None) -> List[float]:
    """Run ``settings.steps`` optimiser steps on ``compute_loss(step)``.

    Returns
    -------
    list of float
        The mean loss of each ``log_interval`` steps (also passed to ``log``).
    """
    from diffusers.optimization import get_cosine_schedule_with_warmup

    parameters = [p for p in parameters if p.requires_grad]
    optimiser = torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    lr_schedule = get_cosine_schedule_with_warmup(optimiser, settings.warmup_steps, settings.steps)
    interval_means, interval_losses = [], []
    bar = tqdm(range(settings.steps), desc=f"training {name}", disable=not settings.progress)
    for step in bar:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.autocast_bf16):
            loss = compute_loss(step)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if settings.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
        optimiser.step()
        lr_schedule.step()
        if after_step is not None:
            after_step()
        interval_losses.append(loss.item())
        if len(interval_losses) == settings.log_interval or step == settings.steps - 1:
            interval_means.append(sum(interval_losses) / len(interval_losses))
            bar.set_postfix(loss=f"{interval_means[-1]:.4f}")
            log({"stage": name, "step": step + 1}, {"loss": interval_means[-1]})
            interval_losses = []
    return interval_means


# --------------------------------------------------------------------------
# VAE
# --------------------------------------------------------------------------


def random_crops(mels: torch.Tensor, index: torch.Tensor, frames: int, generator: torch.Generator) -> torch.Tensor:
    """``frames`` consecutive frames at a random offset of each clip ``mels[index]`` (float32)."""
    starts = torch.randint(mels.shape[2] - frames + 1, (len(index),), generator=generator).tolist()
    return torch.stack([mels[i, :, start:start + frames].float() for i, start in zip(index.tolist(), starts)])


def train_vae(vae, mels: torch.Tensor, batch_size: int, crop_frames: int, kl_weight: float,
              settings: OptimisationSettings, generator: torch.Generator, device: torch.device,
              log) -> List[float]:
    """Train ``vae`` to reconstruct log-mel: L1 on the log-mel + ``kl_weight`` * KL (summed per crop).

    The VAE is convolutional, so it trains on random crops of ``crop_frames``
    frames (a multiple of its time reduction) and still codes whole clips. The
    decoder's output bias starts at the mean log-mel (about -8), which the
    optimiser would otherwise take thousands of steps to reach.
    """
    with torch.no_grad():
        vae.decoder.conv_out.bias.fill_(mels.mean(dtype=torch.float32).item())
    vae.train()

    def compute_loss(step):
        index = torch.randint(len(mels), (batch_size,), generator=generator)
        mel = random_crops(mels, index, crop_frames, generator).to(device)
        posterior = vae.encode(mel).latent_dist
        noise = torch.randn(posterior.mean.shape, generator=generator).to(device)
        reconstruction = vae.decode(posterior.mean + posterior.std * noise).sample
        return F.l1_loss(reconstruction.float(), mel) + kl_weight * posterior.kl().mean()

    losses = optimise(vae.parameters(), compute_loss, settings, device, "vae", log)
    vae.eval()
    return losses


@torch.no_grad()
def encode_mels(vae, mels: torch.Tensor, device: torch.device, batch_size: int = 64,
                progress: bool = True) -> torch.Tensor:
    """Unscaled latent means of log-mels [N, 1, frames, n_mels] -> [N, C, frames/f, n_mels/f] (CPU)."""
    latents = [vae.encode(mels[part].float().to(device)).latent_dist.mode().cpu()
               for part in tqdm(list(_batches(len(mels), batch_size)), desc="encoding latents",
                                disable=not progress)]
    return torch.cat(latents)


# --------------------------------------------------------------------------
# Evaluator
# --------------------------------------------------------------------------


@torch.no_grad()
def sentence_feature_table(clap: ToyClap, captions: List[List[str]], batch_size: int = 256,
                           progress: bool = True):
    """Frozen sentence features of every distinct caption, computed once.

    Returns
    -------
    features : torch.Tensor
        [distinct captions, width] on the evaluator's device.
    caption_index : torch.Tensor
        [clips, captions per clip] row of each clip's caption in ``features``.
    """
    distinct = sorted({text for clip in captions for text in clip}, key=lambda text: (len(text), text))
    row = {text: index for index, text in enumerate(distinct)}
    features = torch.cat([clap.sentence_features(distinct[part]) for part in
                          tqdm(list(_batches(len(distinct), batch_size)), desc="caption features",
                               disable=not progress)])
    return features, torch.tensor([[row[text] for text in clip] for clip in captions])


def contrastive_loss(audio: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of matching rows (CLIP), temperature capped at 1/100."""
    logits = logit_scale.clamp(max=math.log(100.0)).exp() * F.normalize(audio, dim=-1) @ F.normalize(text, dim=-1).T
    target = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def train_evaluator(clap: ToyClap, clips: ClipSet, batch_size: int, text_noise: float,
                    settings: OptimisationSettings, generator: torch.Generator, device: torch.device,
                    log) -> List[float]:
    """Train the evaluator's audio CNN and projections on (clip, one of its captions) pairs.

    Gaussian noise of ``text_noise`` times the features' standard deviation is
    added to the frozen sentence features, so that the text projection also
    maps their neighbourhood (unseen paraphrases) to the right sounds.
    """
    features, caption_index = sentence_feature_table(clap, clips.captions, progress=settings.progress)
    noise_std = text_noise * features.std().item()
    clap.train()
    clap.text_encoder.eval()

    def compute_loss(step):
        index = torch.randperm(len(clips), generator=generator)[:batch_size]
        choice = torch.randint(caption_index.shape[1], (len(index),), generator=generator)
        audio = evaluator_audio_embedding(clap, clips.mels[index].float().to(device))
        sentence = features[caption_index[index, choice]]
        sentence = sentence + noise_std * torch.randn(sentence.shape, generator=generator).to(device)
        return contrastive_loss(audio.float(), clap.text_proj(sentence).float(), clap.logit_scale)

    losses = optimise(clap.parameters(), compute_loss, settings, device, "evaluator", log)
    clap.eval()
    return losses


# --------------------------------------------------------------------------
# UNet
# --------------------------------------------------------------------------


# The caption vocabularies training may draw from (toy_world.VOCABULARIES less the held-out one).
TRAINING_VOCABULARIES = ("train", "train_more")


@torch.no_grad()
def encode_captions(backbone: ToyBackbone, prompts: List[str]) -> TextCond:
    """``backbone.encode_text`` at a fraction of its cost: the text encoder runs on the
    prompts padded to the longest one only, and the result is padded to
    ``max_text_tokens`` with masked zeros.

    The UNet sees the same conditioning either way, since padding tokens are
    masked out of the text encoder's self-attention and of the UNet's cross-attention.
    """
    tokens = backbone.tokenizer(list(prompts), padding=True, truncation=True, max_length=backbone.max_text_tokens,
                                return_tensors="pt").to(backbone.device_of(backbone.text_encoder))
    hidden = backbone.text_encoder(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    states = TextCond(hidden.last_hidden_state.float(), tokens["attention_mask"]).pad_to(backbone.max_text_tokens)
    return backbone.text_condition(states)


def noisy_condition(cond: TextCond, prompts: List[str], scale: float, generator: torch.Generator) -> TextCond:
    """Gaussian noise of ``scale`` x each position's own RMS on the text states (the pooled position too),
    so the UNet answers a neighbourhood of each training wording, where paraphrases land (a relative
    noise of 0.5 leaves a cosine of about 0.9 to the clean state). The null prompt's rows stay exact:
    they are the unconditional branch of classifier-free guidance."""
    if scale <= 0:
        return cond
    hidden = cond.hidden
    keep = torch.tensor([bool(p) for p in prompts], device=hidden.device).view(-1, 1, 1)
    std = hidden.float().pow(2).mean(dim=-1, keepdim=True).sqrt()
    noise = torch.randn(hidden.shape, generator=generator).to(hidden.device) * (scale * std)
    return TextCond(torch.where(keep, hidden + noise.to(hidden.dtype), hidden), cond.mask)


def train_unet(backbone: ToyBackbone, latents: torch.Tensor, captions: List[List[str]], batch_size: int,
               caption_dropout: float, ema: ExponentialMovingAverage, settings: OptimisationSettings,
               generator: torch.Generator, device: torch.device, log, text_noise: float = 0.0) -> List[float]:
    """Train ``backbone.unet`` on scaled latents with the v-prediction loss.

    A random caption of each clip conditions it, replaced by ``""`` with
    probability ``caption_dropout`` (the null prompt of classifier-free guidance);
    ``text_noise`` > 0 adds :func:`noisy_condition` noise to the other captions' states.
    """
    backbone.unet.train()
    caption_rng = random.Random(int(torch.randint(2 ** 31, (1,), generator=generator)))
    num_timesteps = backbone.num_train_timesteps

    def compute_loss(step):
        index = torch.randint(len(latents), (batch_size,), generator=generator)
        prompts = ["" if caption_rng.random() < caption_dropout else caption_rng.choice(captions[i])
                   for i in index.tolist()]
        z0 = latents[index].to(device)
        noise = torch.randn(z0.shape, generator=generator).to(device)
        t = torch.randint(num_timesteps, (batch_size,), generator=generator).to(device)
        cond = noisy_condition(encode_captions(backbone, prompts), prompts, text_noise, generator)
        prediction = backbone.predict(backbone.add_noise(z0, noise, t), t, cond)
        return F.mse_loss(prediction.float(), backbone.training_target(z0, noise, t))

    losses = optimise(backbone.unet.parameters(), compute_loss, settings, device, "unet", log,
                      after_step=lambda: ema.update(backbone.unet))
    backbone.unet.eval()
    return losses


# --------------------------------------------------------------------------
# The recipe
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _stage_output(folder: Path):
    """Yield a temporary folder that becomes ``folder`` only when the block succeeds."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    yield partial
    partial.rename(folder)


def _seed_stage(seed: int, stage: str) -> torch.Generator:
    """Seed torch's global generator (weight initialisation) and return the stage's batch generator."""
    stage_seed = int(np.random.SeedSequence([seed, STAGE_SEED_KEYS[stage]]).generate_state(1)[0])
    torch.manual_seed(stage_seed)
    return torch.Generator().manual_seed(stage_seed)


def model_config(hparams: dict) -> dict:
    """``backbone.json`` of the trained model."""
    return dict(sample_rate=toy_world.SAMPLE_RATE, window_seconds=toy_world.CLIP_SECONDS,
                latent_patch=hparams["latent_patch"], max_text_tokens=hparams["max_text_tokens"],
                text_encoder=TEXT_ENCODER_SOURCE, griffin_lim_iters=hparams["griffin_lim_iters"],
                pooled_text_token=hparams.get("pooled_text_token", False),
                first_timestep=hparams.get("first_timestep"))


def init_model_folder(hparams: dict) -> Optional[Path]:
    """The folder of ``hparams["init_model"]`` (None: train from scratch); a clear error if it is not a model."""
    source = hparams.get("init_model")
    if not source:
        return None
    folder = resolve_source(str(source))
    missing = [name for name in (CONFIG_NAME, "vae", "unet", "scheduler", "evaluator") if not (folder / name).exists()]
    if missing:
        raise UserError(f"init_model '{source}' is not a toy_world model folder (missing {', '.join(missing)}); "
                        "give a folder written by this recipe (<output_folder>/model) or embedded:toy_world")
    return folder


def init_unet_folder(hparams: dict) -> Optional[Path]:
    """The folder of ``hparams["init_unet"]``: a UNet (diffusers layout) that starts the UNet stage in place of
    ``init_model``'s, e.g. one committed mid-way through a training run that goes on across work periods.
    None when not given; a clear error without ``init_model`` (whose VAE latents it learnt) or a UNet inside."""
    source = hparams.get("init_unet")
    if not source:
        return None
    if not hparams.get("init_model"):
        raise UserError("init_unet continues a UNet of a model folder: give that model as --init_model too "
                        "(its VAE made the latents the UNet learnt)")
    folder = Path(str(source))
    if not (folder / "config.json").exists() or not list(folder.glob("*.safetensors")):
        raise UserError(f"init_unet '{source}' holds no UNet (config.json and a .safetensors file); "
                        "give a model folder's unet/ folder")
    return folder


def recaption_vocabulary(hparams: dict) -> str:
    """``hparams["recaption_vocabulary"]`` (default "train"); a clear error if training may not draw from it."""
    vocabulary = hparams.get("recaption_vocabulary", "train")
    if vocabulary not in TRAINING_VOCABULARIES:
        raise UserError(f"recaption_vocabulary must be one of {', '.join(TRAINING_VOCABULARIES)} (the held-out "
                        f"wordings stay out of training), got {vocabulary!r}")
    return vocabulary


def check_training_hparams(hparams: dict):
    """``(init_model folder, init_unet folder, recaption vocabulary)``, each checked: a clear error before anything
    is trained or written (the recipe calls it before it makes its experiment folder)."""
    return init_model_folder(hparams), init_unet_folder(hparams), recaption_vocabulary(hparams)


def train_toy_world(hparams: dict, device: str = "cpu", precision: str = "fp32", max_grad_norm: float = 1.0,
                    progress: bool = True, train_logger=None) -> Path:
    """Run (or resume) all stages; returns the model folder.

    Parameters
    ----------
    hparams : dict
        The recipe's hyperparameters (``recipes/toy_world/hparams/toy_world.yaml``).
    device : str
        Torch device of the models ("cpu", "cuda", "cuda:1").
    precision : {"fp32", "bf16"}
        "bf16" trains under bfloat16 autocast (weights and saved results stay fp32).
    max_grad_norm : float
        Gradient-norm clipping of every stage.
    progress : bool
        Show progress bars.
    train_logger : speechbrain.utils.train_logger.TrainLogger, optional
        Receives losses, timings and validation numbers (``log_stats``).
    """
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16' (autocast), got {precision!r}")
    init_folder, init_unet, recaptions = check_training_hparams(hparams)
    device = torch.device(device)
    save_folder, model_folder = Path(hparams["save_folder"]), Path(hparams["model_folder"])
    save_folder.mkdir(parents=True, exist_ok=True)
    config = (json.loads((init_folder / CONFIG_NAME).read_text()) if init_folder is not None
              else model_config(hparams))

    def log(meta: dict, train_stats: Optional[dict] = None) -> None:
        if train_logger is not None:
            train_logger.log_stats(meta, train_stats=train_stats, verbose=False)

    def settings(stage: str) -> OptimisationSettings:
        return OptimisationSettings(
            steps=hparams[f"{stage}_steps"], lr=hparams[f"{stage}_lr"],
            warmup_steps=hparams[f"{stage}_warmup_steps"], weight_decay=hparams[f"{stage}_weight_decay"],
            max_grad_norm=max_grad_norm, log_interval=hparams["log_interval"],
            autocast_bf16=precision == "bf16", progress=progress)

    # 1. clips
    clips_folder = save_folder / "clips"
    if not clips_folder.exists():
        start = time.time()
        with _stage_output(clips_folder) as out, worker_pool(hparams["num_workers"]) as pool:
            for name, split, count, captions_per_clip, vocabulary in (
                    ("train", "train", hparams["num_train_clips"], hparams["captions_per_clip"], recaptions),
                    ("valid", "heldout", hparams["num_valid_clips"], 1, "heldout")):
                make_clip_set(count, hparams["seed"], split, captions_per_clip, hparams["data_chunk_size"],
                              pool, progress, vocabulary).save(out / f"{name}.pt")
        log({"stage": "clips", "seconds": round(time.time() - start, 1), "train_clips": hparams["num_train_clips"],
             "valid_clips": hparams["num_valid_clips"]})
    train_clips, valid_clips = ClipSet.load(clips_folder / "train.pt"), ClipSet.load(clips_folder / "valid.pt")

    # 2. VAE (+ latents of the training clips, scaled)
    vae_folder = save_folder / "vae"
    if not vae_folder.exists():
        from diffusers import AutoencoderKL

        start = time.time()
        if init_folder is not None:  # kept as it is: the UNet learnt its latents at its scaling_factor
            vae = AutoencoderKL.from_pretrained(init_folder / "vae", torch_dtype=torch.float32).to(device)
            latents = encode_mels(vae, train_clips.mels, device, progress=progress)
        else:
            generator = _seed_stage(hparams["seed"], "vae")
            vae = build_vae(hparams["vae_channels"], hparams["vae_latent_channels"],
                            hparams["vae_layers_per_block"], hparams["vae_norm_groups"]).to(device)
            train_vae(vae, train_clips.mels, hparams["vae_batch_size"], hparams["vae_crop_frames"],
                      hparams["vae_kl_weight"], settings("vae"), generator, device, log)
            latents = encode_mels(vae, train_clips.mels, device, progress=progress)
            vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
        with _stage_output(vae_folder) as out:
            vae.save_pretrained(out)
            torch.save(latents * vae.config.scaling_factor, out / "train_latents.pt")
        log({"stage": "vae", "seconds": round(time.time() - start, 1), "params": parameter_count(vae),
             "scaling_factor": vae.config.scaling_factor,
             "valid_log_mel_snr_db": log_mel_snr_db(vae, valid_clips.mels, device)})

    # 3. evaluator
    evaluator_folder = save_folder / "evaluator"
    if not evaluator_folder.exists():
        start = time.time()
        if init_folder is not None:
            clap = ToyClap.from_pretrained(init_folder / "evaluator").to(device)
        else:
            generator = _seed_stage(hparams["seed"], "evaluator")
            clap = build_evaluator(hparams["evaluator_channels"], hparams["evaluator_embed_dim"]).to(device)
            train_evaluator(clap, train_clips, hparams["evaluator_batch_size"], hparams["evaluator_text_noise"],
                            settings("evaluator"), generator, device, log)
        with _stage_output(evaluator_folder) as out:
            clap.save_pretrained(out)
        log({"stage": "evaluator", "seconds": round(time.time() - start, 1),
             "params": parameter_count(clap) - parameter_count(clap.text_encoder),
             "valid_retrieval_top1": evaluator_retrieval_on_mels(clap, valid_clips, device)})

    # 4. UNet (EMA weights kept)
    unet_folder = save_folder / "unet"
    if not unet_folder.exists():
        from diffusers import AutoencoderKL

        start = time.time()
        generator = _seed_stage(hparams["seed"], "unet")
        vae = AutoencoderKL.from_pretrained(vae_folder)
        latents = torch.load(vae_folder / "train_latents.pt")
        if init_folder is not None:
            from diffusers import DDPMScheduler, UNet2DConditionModel

            unet = UNet2DConditionModel.from_pretrained(init_unet or init_folder / "unet",
                                                        torch_dtype=torch.float32)
            scheduler = DDPMScheduler.from_pretrained(init_folder / "scheduler")
        else:
            unet = build_unet(hparams["unet_channels"], vae.config.latent_channels * hparams["latent_patch"] ** 2,
                              hparams["unet_layers_per_block"], hparams["unet_attention_head_dim"],
                              hparams["unet_norm_groups"])
            scheduler = build_scheduler(hparams["num_train_timesteps"])
        text_encoder, tokenizer = load_text_encoder(TEXT_ENCODER_SOURCE)
        backbone = ToyBackbone(vae, unet, scheduler, text_encoder, tokenizer, config).to(device)
        ema = ExponentialMovingAverage(backbone.unet, hparams["ema_decay"])
        train_unet(backbone, latents, train_clips.captions, hparams["unet_batch_size"],
                   hparams["caption_dropout"], ema, settings("unet"), generator, device, log,
                   text_noise=hparams.get("unet_text_noise", 0.0))
        with _stage_output(unet_folder) as out:
            ema.module.save_pretrained(out)
            backbone.scheduler.save_pretrained(out / "scheduler")
        log({"stage": "unet", "seconds": round(time.time() - start, 1), "params": parameter_count(unet)})

    # 5. the model folder
    if not model_folder.exists():
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

        with _stage_output(model_folder) as out:
            save_components(out, AutoencoderKL.from_pretrained(vae_folder),
                            UNet2DConditionModel.from_pretrained(unet_folder),
                            DDPMScheduler.from_pretrained(unet_folder / "scheduler"), config,
                            half=hparams["half_precision_weights"])
            ToyClap.from_pretrained(evaluator_folder).save_pretrained(out / "evaluator",
                                                                      half=hparams["half_precision_weights"])
        size_mb = sum(f.stat().st_size for f in model_folder.rglob("*") if f.is_file()) / 2 ** 20
        log({"stage": "model", "folder_mb": round(size_mb, 1)})
    return model_folder
