#!/usr/bin/env python3
"""Batch evaluation: run a manifest of clips through the edit recipes and summarise (paper Table 1).

Each clip is edited by the recipe of its edit type (``recipes/<edit_type>/edit.py``) with each
method: ``imagic``, ``imagic_lora``, or the baselines ``sdedit`` and ``ddpm_inversion`` (same
backbone, same edit-type hooks, a strength sweep in place of eta). ``results.csv`` gets one row
per (clip, method) as soon as it is done, so a killed run resumes; ``eta_scores.csv`` holds
every eta's (strength's) scores; ``results.md`` the means per edit type and method and one
Fig. 4 plot per edit type.

To run (from the repo root)::

    python recipes/evaluate/evaluate.py hparams/evaluate.yaml
    python recipes/evaluate/evaluate.py hparams/evaluate.yaml --manifest=my_clips.csv \\
        --methods=[imagic,imagic_lora,sdedit,ddpm_inversion] --emb_steps=50 --device=cuda
    python recipes/evaluate/evaluate.py hparams/evaluate.yaml --edit_types=[style_transfer] --ft_lr=2e-4
    python recipes/evaluate/evaluate.py hparams/evaluate.yaml --output_folder=results/evaluate --rejudge=True
    torchrun --nproc_per_node=4 recipes/evaluate/evaluate.py hparams/evaluate.yaml   # clips sharded over 4 ranks

Authors: the audio_editing developers
"""

from pathlib import Path

from audio_editing.cli import list_arg, run_cli, split_own_arguments
from audio_editing.errors import UserError
from audio_editing.evaluation.batch import evaluate_manifest
from audio_editing.evaluation.distributed import Shard
from audio_editing.evaluation.manifests import read_manifest, select_edit_types
from audio_editing.evaluation.rejudge import rejudge

REPO = Path(__file__).resolve().parents[2]


def main(argv):
    if not argv:
        raise UserError("usage: evaluate.py hparams/evaluate.yaml [--manifest=...] [--methods=[...]] [--key=value ...]")
    hparams, edit_args = split_own_arguments(argv[0], argv[1:])
    methods = list_arg(hparams["methods"])
    entries = select_edit_types(read_manifest(hparams["manifest"]), hparams.get("edit_types"))
    output_folder = Path(hparams["output_folder"])
    if hparams["rejudge"]:
        selection = (hparams["reselect"], hparams["reselect_onset_weight"]) if hparams["reselect"] else None
        rows = rejudge(entries, output_folder, hparams["judge"], selection)
        print((output_folder / "results.md").read_text())
        print(f"{len(rows)} results judged again in {output_folder / 'results.csv'}")
        return
    shard = Shard.from_env()
    try:
        rows = evaluate_manifest(entries, methods, output_folder, edit_args, REPO, shard, hparams["judge"])
    finally:
        shard.close()
    if shard.is_main:
        print((output_folder / "results.md").read_text())
        print(f"{len(rows)} results in {output_folder / 'results.csv'}")


if __name__ == "__main__":
    run_cli(main)
