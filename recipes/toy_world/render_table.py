#!/usr/bin/env python3
"""Does the embedded model render what it is asked? One-event prompts sampled at several settings, judged.

For every prompt (``--prompts``, each with the class it names) and every setting (DDIM steps x guidance x
where sampling from noise starts), ``--takes`` clips are generated from one seed and heard by the judge. A cell
reads ``heard/clean`` of the takes: the prompted class detected, and detected with no other class but a bed
(rain, engine); ``--output_json`` also keeps how many takes were silent (nothing detected).

    python recipes/toy_world/render_table.py embedded:toy_world
    python recipes/toy_world/render_table.py embedded:toy_world --first_timesteps=999,900 --steps=25,50,100

``--first_timesteps``: ``model`` (what the model folder's ``backbone.json`` says), or numbers; 999 starts at the
top of the schedule (the shipped model's behaviour before it set ``first_timestep``).
"""

import argparse
import json
from pathlib import Path

import torch

from audio_editing.cli import numbers_arg, run_cli
from audio_editing.errors import UserError
from audio_editing.registry import load_judge
from audio_editing.toy_world.checks import judged_rendering
from audio_editing.toy_world.model import ToyBackbone

# training wordings of four classes: the short tonal one, two with clear shapes, the harmonic sweep
PROMPTS = {"a machine beeps": "beep", "a dog barks": "dog", "a bird chirps": "bird", "a siren wails": "siren"}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model folder or embedded:<name>")
    parser.add_argument("--prompts", default=None,
                        help="prompt=class pairs separated by ';' (default: " + "; ".join(
                            f"{p}={c}" for p, c in PROMPTS.items()) + ")")
    parser.add_argument("--steps", default="25,50,100", help="DDIM step counts, comma-separated")
    parser.add_argument("--guidance", default="3", help="guidance scales, comma-separated")
    parser.add_argument("--first_timesteps", default="model", help="'model' and/or timesteps, comma-separated")
    parser.add_argument("--takes", type=int, default=16, help="clips per prompt and setting")
    parser.add_argument("--seed", type=int, default=1, help="seed of the noise (the same for every cell)")
    parser.add_argument("--judge", default=None, help="judge folder (default: the model folder's, else the embedded)")
    parser.add_argument("--output_json", default=None, help="also write the counts here")
    return parser.parse_args(argv)


def parse_prompts(text):
    if text is None:
        return dict(PROMPTS)
    pairs = [part.rsplit("=", 1) for part in text.split(";") if part.strip()]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise UserError(f"--prompts must be 'prompt=class' pairs separated by ';'; got {text!r}")
    return {prompt.strip(): label.strip() for prompt, label in pairs}


def main(argv=None) -> list:
    args = parse_args(argv)
    prompts = parse_prompts(args.prompts)
    steps, scales = numbers_arg(args.steps, "--steps", int), numbers_arg(args.guidance, "--guidance")
    if not steps or not scales:
        raise UserError("--steps and --guidance each need at least one number, e.g. --steps=25,100 --guidance=3")
    backbone = ToyBackbone.from_pretrained(args.model).eval()
    judge = load_judge(args.judge or args.model) or load_judge("embedded:toy_world")
    unknown = sorted(set(prompts.values()) - set(judge.classes))
    if unknown:
        raise UserError(f"--prompts names classes the judge does not know: {', '.join(unknown)} "
                        f"(it knows {', '.join(judge.classes)})")
    firsts = [backbone.first_timestep if value == "model" else int(value) for value in args.first_timesteps.split(",")]
    torch.manual_seed(args.seed)
    rows = []
    for first in firsts:
        backbone.first_timestep = first
        for guidance in scales:
            for prompt, label in prompts.items():
                cells = {n: judged_rendering(backbone, judge, prompt, label, args.takes, n, guidance, args.seed)
                         for n in steps}
                rows.append({"prompt": prompt, "class": label, "first_timestep": first, "guidance": guidance,
                             "cells": cells})
    header = "| prompt | first timestep | guidance | " + " | ".join(f"{n} steps" for n in steps) + " |"
    print(header + "\n|" + "---|" * (3 + len(steps)))
    for row in rows:
        cells = " | ".join(f"{c['heard']}/{c['clean']} of {c['takes']}" for c in row["cells"].values())
        print(f"| {row['prompt']} ({row['class']}) | {row['first_timestep'] or 'top'} | {row['guidance']:g} | {cells} |")
    print("cells: takes with the class heard / heard and nothing else but a bed")
    if args.output_json:
        Path(args.output_json).write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    run_cli(main)
