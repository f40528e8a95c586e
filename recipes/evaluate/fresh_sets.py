#!/usr/bin/env python3
"""Fresh sets: the headline on benchmark sets no decision saw, every method and edit type, one pooled table.

The seeds that decisions were made on are listed in ``benchmarks/toy_world/decision_seeds.txt``; this script
makes the toy world's benchmark from other seeds (the first ``--sets`` not on that list, or ``--seeds``; a
decision seed is refused), edits every clip with every method (``evaluate.py``'s rows), judges each output, and
writes ``pooled.md`` / ``pooled.csv``: judge success with its 95 % Wilson interval and preservation per edit type
and method, per set and pooled (``audio_editing/evaluation/fresh_sets.py``).

To run (from the repo root)::

    python recipes/evaluate/fresh_sets.py hparams/fresh_sets.yaml --sets=4
    python recipes/evaluate/fresh_sets.py hparams/fresh_sets.yaml --seeds=[6,7] --methods=[imagic,sdedit,identity]
    torchrun --nproc_per_node=2 recipes/evaluate/fresh_sets.py hparams/fresh_sets.yaml --sets=4

Authors: the audio_editing developers
"""

from pathlib import Path

from audio_editing.cli import run_cli, split_own_arguments
from audio_editing.errors import UserError
from audio_editing.evaluation.distributed import Shard
from audio_editing.evaluation.fresh_sets import evaluate_fresh_sets, fresh_seeds, read_decision_seeds

REPO = Path(__file__).resolve().parents[2]


def main(argv):
    if not argv:
        raise UserError("usage: fresh_sets.py hparams/fresh_sets.yaml [--sets=4 | --seeds=[...]] [--key=value ...]")
    hparams, edit_args = split_own_arguments(argv[0], argv[1:])
    decision_seeds = read_decision_seeds(hparams["decision_seeds"])
    seeds = fresh_seeds(decision_seeds, hparams["sets"], hparams["seeds"])
    output_folder = Path(hparams["output_folder"])
    shard = Shard.from_env()
    try:
        evaluate_fresh_sets(seeds, decision_seeds, hparams["n_per_type"], hparams["make_set"], hparams["methods"],
                            output_folder, edit_args, REPO, hparams["judge"], shard)
    finally:
        shard.close()
    if shard.is_main:
        print((output_folder / "pooled.md").read_text())
        print(f"sets {seeds}: per-set results in {output_folder}/seed<N>/, the pooled table in "
              f"{output_folder / 'pooled.md'} and pooled.csv")


if __name__ == "__main__":
    run_cli(main)
