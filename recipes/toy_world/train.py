#!/usr/bin/env python3
"""Train the embedded ``toy_world`` model: log-mel VAE, text-conditioned UNet and ToyClap evaluator.

Renders procedural toy-world clips (``audio_editing.toy_world``), then trains
the VAE, the evaluator and the UNet (EMA weights kept) and writes

* ``<output_folder>/model/``: the model folder read by
  ``ToyBackbone.from_pretrained`` (fp16 weights), with ``evaluator/`` inside;
* ``<output_folder>/train_log.txt``: losses, validation numbers and seconds per stage;
* ``<output_folder>/save/``: each stage's result, written as soon as the stage ends.
  Running the same command again skips the stages found there (resume after a kill).

To run (defaults fit in about 45 minutes on a 2-core CPU, a few minutes on a GPU)::

    python recipes/toy_world/train.py recipes/toy_world/hparams/toy_world.yaml
    python recipes/toy_world/train.py recipes/toy_world/hparams/toy_world.yaml --device=cuda --num_workers=8

Any top-level key of the hparams file can be overridden, e.g. ``--unet_steps=500``;
``--init_model=embedded:toy_world`` continues training the shipped model's UNet.
SpeechBrain run options apply: ``--device``, ``--precision=bf16`` (bfloat16
autocast), ``--max_grad_norm``, ``--noprogressbar``. Then measure the model with
``python recipes/toy_world/check_model.py <output_folder>/model``.
"""

import time

# audio_editing before speechbrain: importing it quiets SpeechBrain's import-time torchvision warning.
from audio_editing.cli import run_cli
from audio_editing.toy_world.train import check_training_hparams, train_toy_world

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import infer_device
from speechbrain.utils.train_logger import FileTrainLogger


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    check_training_hparams(hparams)  # a bad --init_model, --init_unet or vocabulary fails before anything is written
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"],
                                   hyperparams_to_save=hparams_file, overrides=overrides)
    train_logger = FileTrainLogger(hparams["train_log"], precision=4)
    start = time.time()
    model_folder = train_toy_world(hparams, device=run_opts["device"] or infer_device(),
                                   precision=run_opts["precision"], max_grad_norm=run_opts["max_grad_norm"],
                                   progress=not run_opts["noprogressbar"], train_logger=train_logger)
    train_logger.log_stats({"stage": "all", "seconds": round(time.time() - start, 1)})
    print(f"model written to {model_folder}")


if __name__ == "__main__":
    run_cli(main)
