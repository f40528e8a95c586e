"""Measurements of a trained embedded model, the numbers of ``recipes/toy_world/check_model.py``.

The VAE's log-mel SNR, the evaluator's text-to-audio retrieval (both also logged while training),
and generation checks: clips sampled from one-event prompts classified by the evaluator
(:func:`generation_recognition`) and from multi-event captions checked by the judge
(:func:`composition_recognition`).
"""

from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from audio_editing import toy_world
from audio_editing.backbones.base import TextCond
from audio_editing.toy_world.clips import SPLIT_SEED_KEYS, ClipSet, _batches
from audio_editing.toy_world.evaluator import ToyClap, evaluator_audio_embedding
from audio_editing.toy_world.model import ToyBackbone


# --------------------------------------------------------------------------
# VAE and evaluator
# --------------------------------------------------------------------------


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
# Sampling and the generation check
# --------------------------------------------------------------------------


@torch.no_grad()
def generate_latents(backbone: ToyBackbone, prompts: List[str], num_steps: int = 50, guidance: float = 3.0,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """DDIM sampling (``DDIMScheduler.from_config(backbone.scheduler.config)``, from the model's first
    timestep: ``noise_timesteps``) with classifier-free guidance against the ``""`` prompt. Returns scaled
    latents [B, C, time, freq]."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(backbone.scheduler.config)
    scheduler.set_timesteps(num_steps)
    device = backbone.device_of(backbone.unet)
    cond = backbone.encode_text(prompts)
    both = TextCond.cat([cond, backbone.null_cond(cond)])
    latent_shape = backbone.encode_audio(torch.zeros(1, backbone.window_samples)).shape[1:]
    z = torch.randn((len(prompts), *latent_shape), generator=generator).to(device) * scheduler.init_noise_sigma
    for t in backbone.noise_timesteps(scheduler):
        conditional, unconditional = backbone.predict(torch.cat([z, z]), t.to(device), both).chunk(2)
        z = scheduler.step(unconditional + guidance * (conditional - unconditional), t, z).prev_sample
    return z


@torch.no_grad()
def judged_rendering(backbone: ToyBackbone, judge, prompt: str, label: str, takes: int = 16, num_steps: int = 25,
                     guidance: float = 3.0, seed: int = 1) -> Dict[str, int]:
    """``takes`` clips generated from ``prompt`` (one batch, noise from ``seed``), heard by the judge: how many
    hold ``label`` (``heard``), hold it and no other class but a bed (``clean``), hold nothing (``silent``)."""
    latents = generate_latents(backbone, [prompt] * takes, num_steps, guidance, torch.Generator().manual_seed(seed))
    detected = heard_classes(judge, backbone.decode(latents).float(), backbone.sample_rate)
    return {"takes": takes, "heard": sum(label in found for found in detected),
            "clean": sum(all_detected([label], found) for found in detected),
            "silent": sum(not found for found in detected)}


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
            detected += heard_classes(judge, wavs, backbone.sample_rate)
    result = {**_recognition_summary(predicted, labels, clips_per_class), "prompts": prompts, "predicted": predicted}
    if judge is not None:
        judged = [all_detected([label], found) for label, found in zip(labels, detected)]
        result.update(judge=float(np.mean(judged)), detected=detected, judge_per_class={
            label: float(np.mean([ok for ok, lab in zip(judged, labels) if lab == label])) for label in toy_world.CLASSES})
    return result


def class_scores(clap: ToyClap, wavs: torch.Tensor, sample_rate: int, classes: torch.Tensor) -> torch.Tensor:
    """[clips, classes]: cosine of each clip's audio embedding to each class's text embedding (rows of ``classes``)."""
    return clap.audio_embeddings(wavs, sample_rate) @ classes.T.to(clap.device)


def heard_classes(judge, wavs: torch.Tensor, sample_rate: int) -> List[List[str]]:
    """The classes the judge detects in each clip, sorted."""
    return [sorted({d.label for d in events}) for events in judge.detect(wavs, sample_rate)]


def classify(clap: ToyClap, wavs: torch.Tensor, sample_rate: int, classes: torch.Tensor) -> List[str]:
    """The class whose text embedding (a row of ``classes``) is closest to each clip's audio embedding."""
    scores = class_scores(clap, wavs, sample_rate, classes)
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

    The ceiling: the same scenes rendered and passed through the model's VAE and
    vocoder (what a perfect generator would give, heard through the same decoder),
    judged the same way (``rendered_judge``).

    Returns
    -------
    dict
        ``judge``, ``evaluator`` and ``rendered_judge`` (fractions of clips), ``per_form``
        (the three per form), and per clip: ``prompts``, ``classes``, ``detected`` (the
        judge's classes) and ``evaluator_top`` (the evaluator's k best).
    """
    rng = np.random.default_rng([seed, SPLIT_SEED_KEYS[split], 2])
    forms = [form for form in COMPOSITION_FORMS for _ in range(clips_per_form)]
    scenes = [composition_scene(form, rng) for form in forms]
    prompts = [toy_world.caption(scene, rng, split) for scene in scenes]
    classes = [scene_classes(scene) for scene in scenes]
    generator = torch.Generator().manual_seed(seed)
    class_embeddings = class_text_embeddings(clap)
    detected, evaluator_top, rendered_detected = [], [], []
    for part in tqdm(list(_batches(len(prompts), batch_size)), desc=f"composing ({split} wordings)",
                     disable=not progress):
        rendered = torch.from_numpy(np.stack([toy_world.render_scene(scene) for scene in scenes[part]])).float()
        round_trip = backbone.decode(backbone.encode_audio(backbone.prepare_audio(rendered))).float()
        rendered_detected += heard_classes(judge, round_trip, backbone.sample_rate)
        wavs = backbone.decode(generate_latents(backbone, prompts[part], num_steps, guidance, generator)).float()
        detected += heard_classes(judge, wavs, backbone.sample_rate)
        scores = class_scores(clap, wavs, backbone.sample_rate, class_embeddings).cpu()
        for row, wanted in zip(scores, classes[part]):
            evaluator_top.append(sorted(toy_world.CLASSES[i] for i in row.topk(len(wanted)).indices.tolist()))
    by_judge = [all_detected(wanted, found) for wanted, found in zip(classes, detected)]
    by_evaluator = [top == wanted for top, wanted in zip(evaluator_top, classes)]
    by_ceiling = [all_detected(wanted, found) for wanted, found in zip(classes, rendered_detected)]
    outcomes = {"judge": by_judge, "evaluator": by_evaluator, "rendered_judge": by_ceiling}
    per_form = {form: {name: float(np.mean([ok for ok, f in zip(values, forms) if f == form]))
                       for name, values in outcomes.items()} for form in COMPOSITION_FORMS}
    return {**{name: float(np.mean(values)) for name, values in outcomes.items()}, "per_form": per_form,
            "prompts": prompts, "classes": classes, "detected": detected, "evaluator_top": evaluator_top}
