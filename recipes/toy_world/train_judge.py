#!/usr/bin/env python3
"""Train the judge: a sound-event detector over the toy world's classes (the benchmark's ground truth).

Renders annotated scenes (and their round trips through the embedded model's VAE and vocoder),
trains a CRNN with frame-level binary cross-entropy on each class's activity and onsets, picks its
post-processing (thresholds, median filter) on validation scenes, and writes

* ``<output_folder>/judge/``: ``judge.json`` + ``model.safetensors``, read by
  ``audio_editing.toy_world.judge.SoundEventDetector.from_pretrained``;
* ``<output_folder>/train_log.txt``: losses, the post-processing chosen, seconds per stage;
* ``<output_folder>/save/``: the rendered clips (a rerun with the same data keys reuses them).

To run (about 20 minutes on a 2-core CPU)::

    python recipes/toy_world/train_judge.py recipes/toy_world/hparams/judge.yaml
    python recipes/toy_world/check_judge.py results/toy_world_judge/1234/judge

To ship it, copy ``<output_folder>/judge/`` to ``audio_editing/pretrained/toy_world/judge/``.
The judge is never used to pick eta or to train anything the editor uses.

Authors: the audio_editing developers
"""

import json
import time
from pathlib import Path

# audio_editing before speechbrain: importing it quiets SpeechBrain's import-time torchvision warning.
from audio_editing import toy_world
from audio_editing.cli import run_cli
from audio_editing.toy_world.judge import Detection, SoundEventDetector
from audio_editing.toy_world.judge_train import JudgeClips, make_judge_clips, train_judge, tune_post_processing
from audio_editing.toy_world.model import ToyBackbone
from audio_editing.toy_world.train import OptimisationSettings

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.train_logger import FileTrainLogger

DATA_KEYS = ("seed", "backbone_source", "num_train_clips", "num_train_vae", "num_train_vocoded", "num_valid_clips")


def load_or_make_clips(hparams, backbone, progress, log):
    """The training and validation clips, from ``save_folder`` when made with the same data keys."""
    folder = Path(hparams["save_folder"])
    stamp = {key: hparams[key] for key in DATA_KEYS}
    if (folder / "clips.pt").is_file() and json.loads((folder / "clips.json").read_text()) == stamp:
        return [JudgeClips(**part, annotations=[[Detection(*event) for event in clip] for clip in annotations])
                for part, annotations in zip(torch.load(folder / "clips.pt"),
                                             json.loads((folder / "annotations.json").read_text()))]
    start = time.time()
    seeds = np.random.SeedSequence(hparams["seed"]).generate_state(2)
    train = make_judge_clips(backbone, hparams["num_train_clips"], hparams["num_train_vae"],
                             hparams["num_train_vocoded"], int(seeds[0]), progress=progress)
    valid = make_judge_clips(backbone, hparams["num_valid_clips"], hparams["num_valid_clips"],
                             hparams["num_valid_clips"], int(seeds[1]), progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save([{k: v for k, v in vars(part).items() if k != "annotations"} for part in (train, valid)],
               folder / "clips.pt")
    (folder / "annotations.json").write_text(json.dumps([[[(e.label, e.onset, e.offset) for e in clip]
                                                          for clip in part.annotations] for part in (train, valid)]))
    (folder / "clips.json").write_text(json.dumps(stamp))
    log({"stage": "clips", "seconds": round(time.time() - start, 1), **stamp})
    return train, valid


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"],
                                   hyperparams_to_save=hparams_file, overrides=overrides)
    train_logger = FileTrainLogger(hparams["train_log"], precision=4)

    def log(meta, train_stats=None):
        train_logger.log_stats(meta, train_stats=train_stats, verbose=False)

    progress = not run_opts["noprogressbar"]
    backbone = ToyBackbone.from_pretrained(hparams["backbone_source"]).eval()
    with torch.no_grad():
        train, valid = load_or_make_clips(hparams, backbone, progress, log)
    torch.manual_seed(hparams["seed"])
    judge = SoundEventDetector(dict(classes=toy_world.CLASSES, sample_rate=toy_world.SAMPLE_RATE,
                                    channels=hparams["channels"], gru_hidden=hparams["gru_hidden"],
                                    dropout=hparams["dropout"], threshold=0.5, median_frames=1, onset_threshold=0.5))
    settings = OptimisationSettings(steps=hparams["steps"], lr=hparams["lr"], warmup_steps=hparams["warmup_steps"],
                                    weight_decay=hparams["weight_decay"], log_interval=hparams["log_interval"],
                                    progress=progress)
    start = time.time()
    train_judge(judge, train, settings, hparams["batch_size"], hparams["gain_db"], hparams["onset_weight"],
                torch.Generator().manual_seed(hparams["seed"]), log)
    log({"stage": "judge", "seconds": round(time.time() - start, 1),
         "parameters": sum(p.numel() for p in judge.parameters())})
    log({"stage": "post-processing", **tune_post_processing(judge, valid)})
    judge.eval().save_pretrained(hparams["model_folder"])
    print(f"judge written to {hparams['model_folder']}")


if __name__ == "__main__":
    run_cli(main)
