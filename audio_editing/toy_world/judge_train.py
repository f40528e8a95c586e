"""Training and checking the judge (``recipes/toy_world/train_judge.py``, ``check_judge.py``).

Scenes of 1-4 events over an optional bed are rendered with their annotations
(:func:`judge.scene_annotation`) and kept as log-mel. What edits sound like is added by the
embedded model's round trip: every clip also through its VAE (log-mel -> latent -> log-mel, cheap)
and a share of them through VAE + Griffin-Lim vocoder (what an edit's waveform really is, 0.5-1 s a
clip on a CPU). Each batch draws one version per clip and a random gain.
"""

import itertools
from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from audio_editing import toy_world
from audio_editing.toy_world.judge import Detection, SoundEventDetector, frame_targets, scene_annotation, sed_f1
from audio_editing.toy_world.model import ToyBackbone
from audio_editing.toy_world.train import OptimisationSettings, optimise

LOG_FLOOR = float(np.log(1e-5))  # LogMel's floor
TIE = 0.005  # validation event F1 differences below this do not choose the post-processing


@dataclass
class JudgeClips:
    """Rendered scenes as log-mel, with their annotations and round-trip versions.

    ``mels`` [N, frames, 64] (fp16); ``vae_mels`` the first clips through the VAE; ``vocoded_mels``
    the first (fewer) clips through VAE + vocoder.
    """

    mels: torch.Tensor
    vae_mels: torch.Tensor
    vocoded_mels: torch.Tensor
    annotations: List[List[Detection]]

    def __len__(self) -> int:
        return len(self.annotations)


def render_scenes(num_clips: int, seed: int, progress: bool = True):
    """``num_clips`` random scenes (1-4 events, a bed 30% of the time): waveforms [N, T] and annotations."""
    rng = np.random.default_rng(seed)
    wavs, annotations = [], []
    for _ in tqdm(range(num_clips), desc="rendering judge scenes", disable=not progress):
        scene = toy_world.sample_scene(rng, n_events=int(rng.integers(1, 5)), background="random")
        wavs.append(toy_world.render_scene(scene))
        annotations.append(scene_annotation(scene))
    return torch.from_numpy(np.stack(wavs)), annotations


@torch.no_grad()
def make_judge_clips(backbone: ToyBackbone, num_clips: int, num_vae: int, num_vocoded: int, seed: int,
                     batch_size: int = 32, progress: bool = True) -> JudgeClips:
    """Render scenes and the round trips through ``backbone`` of the first ``num_vae`` (VAE) and of the
    first ``num_vocoded`` (VAE + vocoder) of them."""
    wavs, annotations = render_scenes(num_clips, seed, progress)
    mels = backbone.mel(wavs)[:, 0]  # [N, frames, 64]
    vae_mels, vocoded = [], []
    for start in tqdm(range(0, min(num_vae, num_clips), batch_size), desc="round trips", disable=not progress):
        mel = mels[start:min(start + batch_size, num_vae)]
        vae_mel = backbone.vae.decode(backbone.vae.encode(mel[:, None]).latent_dist.mode()).sample[:, 0]
        vae_mels.append(vae_mel.half())
        keep = max(0, min(len(mel), num_vocoded - start))
        if keep:
            vocoded.append(backbone.mel(backbone.vocoder(vae_mel[:keep]))[:, 0].half())
    empty = torch.zeros(0, *mels.shape[1:], dtype=torch.float16)
    return JudgeClips(mels.half(), torch.cat(vae_mels) if vae_mels else empty,
                      torch.cat(vocoded) if vocoded else empty, annotations)


def clip_targets(judge: SoundEventDetector, clips: JudgeClips) -> torch.Tensor:
    """[N, output frames, classes] frame targets of every clip."""
    n_frames = clips.mels.shape[1] // judge.TIME_POOL
    return torch.stack([frame_targets(a, n_frames, judge.frame_seconds, judge.classes) for a in clips.annotations])


def train_judge(judge: SoundEventDetector, clips: JudgeClips, settings: OptimisationSettings, batch_size: int,
                gain_db: float, onset_weight: float, generator: torch.Generator,
                log: Callable[[dict, dict], None]) -> List[float]:
    """Frame-level binary cross-entropy of activities and onsets (onset frames, rare, weighted up by
    ``onset_weight``); each draw takes the clean, VAE or vocoded version of a clip."""
    targets = clip_targets(judge, clips)
    weight = torch.ones(targets.shape[-1])
    weight[len(judge.classes):] = onset_weight
    versions = [clips.mels, clips.vae_mels, clips.vocoded_mels]
    judge.train()

    def compute_loss(step):
        index = torch.randint(len(clips), (batch_size,), generator=generator)
        version = torch.randint(3, (batch_size,), generator=generator)
        version[(version == 2) & (index >= len(clips.vocoded_mels))] = 1  # only the first clips have round trips
        version[(version == 1) & (index >= len(clips.vae_mels))] = 0
        mel = torch.stack([versions[v][i] for v, i in zip(version.tolist(), index.tolist())]).float()
        gain = (torch.rand(batch_size, 1, 1, generator=generator) * 2 - 1) * gain_db / 20 * np.log(10)
        mel = (mel + gain).clamp(min=LOG_FLOOR)  # log-magnitude: a gain is an offset above the floor
        return F.binary_cross_entropy_with_logits(judge(mel), targets[index], pos_weight=weight)

    return optimise(judge.parameters(), compute_loss, settings, torch.device("cpu"), "judge", log)


@torch.no_grad()
def probabilities_of(judge: SoundEventDetector, mels: torch.Tensor) -> np.ndarray:
    """Frame probabilities [N, frames, 2 * classes] of log-mels [N, frames, 64]."""
    judge.eval()
    return torch.cat([torch.sigmoid(judge(part.float())) for part in mels.split(64)]).numpy()


def tune_post_processing(judge: SoundEventDetector, clips: JudgeClips, thresholds=(0.4, 0.5, 0.6),
                         median_frames=(1, 3, 5, 7, 9), onset_thresholds=(0.3, 0.5, 0.7, 1.0)) -> Dict[str, float]:
    """Pick the post-processing with the best mean event F1 over the clean and vocoded versions of
    validation clips (onset threshold 1: no splits), and among those within ``TIE`` of it the lowest
    activity threshold (a judge that misses a quiet event fails an edit that made it); writes it into
    the judge's config."""
    vocoded = clips.annotations[:len(clips.vocoded_mels)]
    clean_p, vocoded_p = probabilities_of(judge, clips.mels), probabilities_of(judge, clips.vocoded_mels)
    scored = []
    for threshold, frames, onset in itertools.product(thresholds, median_frames, onset_thresholds):
        settings = dict(threshold=threshold, median_frames=frames, onset_threshold=onset)
        f1 = (sed_f1(clips.annotations, judge.events(clean_p, **settings), judge.classes)
              + sed_f1(vocoded, judge.events(vocoded_p, **settings), judge.classes)) / 2
        scored.append((f1, settings))
    top = max(f1 for f1, _ in scored)
    f1, settings = min(((f1, s) for f1, s in scored if f1 >= top - TIE), key=lambda item: (item[1]["threshold"], -item[0]))
    judge.config.update(settings)
    return {"valid_event_f1": round(f1, 4), **settings}


def check_judge(judge: SoundEventDetector, clips: JudgeClips) -> Dict[str, float]:
    """The judge's check numbers on held-out clips (all of them also vocoded)."""
    clean = judge.events(probabilities_of(judge, clips.mels))
    vocoded = judge.events(probabilities_of(judge, clips.vocoded_mels))
    per_class = {label: round(sed_f1([[d for d in a if d.label == label] for a in clips.annotations],
                                     [[d for d in c if d.label == label] for c in clean], [label]), 4)
                 for label in judge.classes}
    return {"event_f1_rendered": round(sed_f1(clips.annotations, clean, judge.classes), 4),
            "segment_f1_rendered": round(sed_f1(clips.annotations, clean, judge.classes, "segment"), 4),
            "event_f1_roundtrip": round(sed_f1(clips.annotations, vocoded, judge.classes), 4),
            "segment_f1_roundtrip": round(sed_f1(clips.annotations, vocoded, judge.classes, "segment"), 4),
            "event_f1_rendered_per_class": per_class}

