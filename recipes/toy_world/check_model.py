#!/usr/bin/env python3
"""Measure a trained ``toy_world`` model folder: the numbers its README reports.

1. Generation recognition: for every class, clips generated (DDIM at the recipes' 25 steps and again at
   100, ``--num_steps``/``--more_steps``; classifier-free guidance against "") from one-event prompts
   in training wordings and in held-out paraphrases, classified among the classes by the model's evaluator
   (class text embedding = mean over the class's training wordings); top-1 of each.
   The same classification of rendered one-event clips (``evaluator_class_top1_rendered``)
   is the evaluator's ceiling: a generated clip cannot score better than real ones.
   The judge (the sound-event detector in ``<model>/judge``) also listens: its class
   heard and no other (``generation_judged_*``).
2. Composition: clips generated from multi-event captions (two events, an event over
   a bed, an event repeated: "X while Y", "X, then Y", "X with rain in the background",
   "a dog barks twice"), training wordings and held-out ones; a clip counts when the
   judge detects every prompted class and no unprompted one but a bed
   (``generation_all_detected_*``), and, for the evaluator, when the scene's k classes are
   its k best (``generation_evaluator_topk_*``). The ceiling: the same scenes rendered and
   passed through the model's VAE and vocoder, judged alike (``rendered_all_detected_*``).
3. Evaluator text->audio retrieval top-1 on held-out clips (groups of 32 clips,
   held-out caption wordings; also with training wordings of the same scenes).
4. VAE log-mel SNR (dB) on the same held-out clips.

To run (about 18 minutes on an idle 2-core CPU with the default model)::

    python recipes/toy_world/check_model.py results/toy_world/1234/model
    python recipes/toy_world/check_model.py embedded:toy_world --device=cuda

Prints the numbers with their targets and writes them, with the prompts and the
predicted class of every generated clip, to ``--output_json`` (default
``check_model.json`` in the current folder).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from audio_editing import toy_world
from audio_editing.cli import numbers_arg, run_cli
from audio_editing.errors import UserError
from audio_editing.registry import load_judge, resolve_source
from audio_editing.toy_world.checks import (composition_recognition, generation_recognition, log_mel_snr_db,
                                            rendered_recognition, retrieval_top1)
from audio_editing.toy_world.evaluator import ToyClap
from audio_editing.toy_world.model import ToyBackbone

TARGETS = {"generation_top1_train_wordings": 0.95, "generation_top1_heldout_wordings": 0.80,
           "generation_all_detected_train_wordings": 0.85, "generation_all_detected_heldout_wordings": 0.70,
           "evaluator_retrieval_top1": 0.80}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model folder (or embedded:<name>) with an evaluator/ inside")
    # 16 per class: 192 clips per split, a 95% interval of about +-6 points at 70% (8 per class: +-9)
    parser.add_argument("--clips_per_class", type=int, default=16, help="generated clips per class and wording split")
    # 3 forms x 48: 144 clips per split, a 95% interval of about +-6 points at 85%
    parser.add_argument("--clips_per_form", type=int, default=48,
                        help="generated multi-event clips per caption form and wording split")
    parser.add_argument("--judge", default=None,
                        help="judge folder (default: the model folder's judge/, else the embedded model's)")
    parser.add_argument("--num_steps", type=int, default=25,
                        help="DDIM steps of every generation (25: what the recipes sample the embedded model with)")
    parser.add_argument("--more_steps", default="100",
                        help="step counts the one-event rendering is also measured at, comma-separated ('' for none)")
    parser.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale")
    parser.add_argument("--batch_size", type=int, default=48, help="prompts generated together")
    parser.add_argument("--num_heldout_clips", type=int, default=256, help="held-out clips (multiple of 32)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of prompts, noise and held-out clips")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--output_json", default="check_model.json", help="where to write the numbers")
    parser.add_argument("--noprogressbar", action="store_true")
    return parser.parse_args(argv)


@torch.no_grad()
def heldout_measurements(backbone: ToyBackbone, clap: ToyClap, num_clips: int, seed: int, progress: bool) -> dict:
    """Evaluator retrieval top-1 and VAE log-mel SNR on held-out clips.

    Retrieval is measured with the clips' held-out-wording captions (the target)
    and, to tell paraphrase generalisation from audio generalisation, with
    training-wording captions of the same scenes.
    """
    examples = tqdm(toy_world.generate_examples(num_clips, seed, split="heldout"), total=num_clips,
                    desc="rendering held-out clips", disable=not progress)
    train_wording_rng = np.random.default_rng([seed, 0])
    wavs, captions, train_wording_captions = [], [], []
    for wav, caption, scene in examples:
        wavs.append(wav)
        captions.append(caption)
        train_wording_captions.append(toy_world.caption(scene, train_wording_rng, "train"))
    wavs = torch.from_numpy(np.stack(wavs))
    audio = torch.cat([clap.audio_embeddings(part, toy_world.SAMPLE_RATE) for part in wavs.split(64)])
    device = backbone.device_of(backbone.vae)
    mels = torch.cat([backbone.mel(part.to(device)).cpu() for part in wavs.split(64)])
    return {"evaluator_retrieval_top1": retrieval_top1(audio, clap.text_embeddings(captions), captions),
            "evaluator_retrieval_top1_train_wordings": retrieval_top1(
                audio, clap.text_embeddings(train_wording_captions), train_wording_captions),
            "vae_log_mel_snr_db": log_mel_snr_db(backbone.vae, mels, device)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    progress = not args.noprogressbar
    folder = resolve_source(args.model)
    backbone = ToyBackbone.from_pretrained(args.model).to(args.device).eval()
    clap = ToyClap.from_pretrained(folder / "evaluator").to(args.device).eval()
    judge = load_judge(args.judge or str(folder)) or load_judge("embedded:toy_world")
    if judge is None:
        raise UserError(f"no judge in '{args.judge or folder}'; give one with --judge=<folder>")
    judge = judge.to(args.device)
    more_steps = numbers_arg(args.more_steps, "--more_steps", int)
    results = heldout_measurements(backbone, clap, args.num_heldout_clips, args.seed, progress)
    rendered = rendered_recognition(clap, max(args.clips_per_class, 8), args.seed)
    results["evaluator_class_top1_rendered"] = rendered.pop("top1")
    details = {"rendered": rendered}
    for split, wordings in (("train", "train_wordings"), ("heldout", "heldout_wordings")):
        recognition = generation_recognition(backbone, clap, args.clips_per_class, split, args.num_steps,
                                             args.guidance, args.batch_size, args.seed, progress, judge)
        results[f"generation_top1_{wordings}"] = recognition.pop("top1")
        results[f"generation_judged_{wordings}"] = recognition.pop("judge")
        for steps in more_steps:  # the same prompts and noise, more steps: does the recipes' count fall short?
            more = generation_recognition(backbone, clap, args.clips_per_class, split, steps, args.guidance,
                                          args.batch_size, args.seed, progress, judge)
            results[f"generation_top1_{wordings}_{steps}_steps"] = more.pop("top1")
            results[f"generation_judged_{wordings}_{steps}_steps"] = more.pop("judge")
            details[f"{split}_{steps}_steps"] = more
        composition = composition_recognition(backbone, clap, judge, args.clips_per_form, split, args.num_steps,
                                              args.guidance, args.batch_size, args.seed, progress)
        results[f"generation_all_detected_{wordings}"] = composition.pop("judge")
        results[f"generation_evaluator_topk_{wordings}"] = composition.pop("evaluator")
        results[f"rendered_all_detected_{wordings}"] = composition.pop("rendered_judge")
        details[split] = recognition
        details[f"composition_{split}"] = composition
    for key, value in results.items():
        target = f"   (target >= {TARGETS[key]:.0%})" if key in TARGETS else ""
        print(f"{key:44s} {value:8.3f}{target}")
    output_json = Path(args.output_json)
    settings = {key: value for key, value in vars(args).items() if key not in ("output_json", "noprogressbar")}
    output_json.write_text(json.dumps({"model": args.model, "settings": settings, "results": results,
                                       "generation": details}, indent=2))
    print(f"written to {output_json}")
    return results


if __name__ == "__main__":
    run_cli(main)
