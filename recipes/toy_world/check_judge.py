#!/usr/bin/env python3
"""Measure the judge (the toy world's sound-event detector): the numbers its README reports.

1. Event-based F1 (onset within 200 ms, offsets not evaluated) and segment-based F1 (1 s
   segments) with ``sed_eval`` on held-out rendered scenes, against their annotations;
   the same scenes through the embedded model's VAE + vocoder (what edits sound like).
2. On the benchmark manifest: edit success of the reference edits (should be >= 90 % on every
   edit type) and of the inputs returned unchanged (the identity: ~0 %).

To run (about 5 minutes on a 2-core CPU)::

    python recipes/toy_world/check_judge.py embedded:toy_world
    python recipes/toy_world/check_judge.py results/toy_world_judge/1234/judge --output_json=check_judge.json

Writes the numbers with their targets to ``--output_json`` (default ``check_judge.json``).

Authors: the audio_editing developers
"""

import argparse
import json
from pathlib import Path

import torch

from audio_editing.cli import run_cli
from audio_editing.data.audio import load_audio
from audio_editing.editing.edit_types import EDIT_TYPES
from audio_editing.errors import UserError
from audio_editing.evaluation.manifests import read_manifest
from audio_editing.registry import load_judge
from audio_editing.toy_world.judge import SoundEventDetector
from audio_editing.toy_world.judge_train import check_judge, make_judge_clips
from audio_editing.toy_world.model import ToyBackbone

TARGETS = {"event_f1_rendered": 0.90, "segment_f1_rendered": 0.95, "event_f1_roundtrip": 0.80}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("judge", help="a judge folder, or a model folder / embedded:<name> with judge/ inside")
    parser.add_argument("--backbone_source", default="embedded:toy_world", help="model whose VAE + vocoder "
                        "make the round-trip versions")
    parser.add_argument("--num_clips", type=int, default=256, help="held-out scenes")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the held-out scenes (training used others)")
    parser.add_argument("--manifest", default="benchmarks/toy_world/manifest.json", help="benchmark with scenes")
    parser.add_argument("--output_json", default="check_judge.json", help="where to write the numbers")
    parser.add_argument("--noprogressbar", action="store_true")
    return parser.parse_args(argv)


@torch.no_grad()
def benchmark_success(judge: SoundEventDetector, manifest: str) -> dict:
    """{edit type: {reference_success, identity_success, clips}} on a manifest with ground truth."""
    out, all_entries = {}, read_manifest(manifest)
    for edit_type in EDIT_TYPES:
        entries = [e for e in all_entries if e["edit_type"] == edit_type and e.get("reference")]
        if not entries:
            continue
        numbers = {"clips": len(entries)}
        for row, key in (("reference", "reference"), ("identity", "wav")):
            wavs = torch.stack([load_audio(e[key], judge.sample_rate) for e in entries])
            verdicts = [judge.judge_outputs(e, w[None], judge.sample_rate)[0] for e, w in zip(entries, wavs)]
            numbers[f"{row}_success"] = round(sum(v["judge_success"] for v in verdicts) / len(entries), 4)
            numbers[f"{row}_preservation"] = round(sum(v["judge_preservation"] for v in verdicts) / len(entries), 4)
            numbers[f"{row}_failed"] = [e["id"] for e, v in zip(entries, verdicts) if not v["judge_success"]]
        out[edit_type] = numbers
    return out


def main(argv):
    args = parse_args(argv)
    judge = load_judge(args.judge)
    if judge is None:
        raise UserError(f"no judge in '{args.judge}'; train one with recipes/toy_world/train_judge.py")
    backbone = ToyBackbone.from_pretrained(args.backbone_source).eval()
    with torch.no_grad():
        clips = make_judge_clips(backbone, args.num_clips, args.num_clips, args.num_clips, args.seed,
                                 progress=not args.noprogressbar)
    results = check_judge(judge, clips)
    benchmark = benchmark_success(judge, args.manifest)
    for key, value in results.items():
        if not isinstance(value, dict):
            target = f"   (target >= {TARGETS[key]:.2f})" if key in TARGETS else ""
            print(f"{key:28s} {value:8.3f}{target}")
    for edit_type, numbers in benchmark.items():
        print(f"{edit_type:16s} reference success {numbers['reference_success']:.3f} (target >= 0.90), "
              f"identity success {numbers['identity_success']:.3f} (target ~0), {numbers['clips']} clips")
    settings = {k: v for k, v in vars(args).items() if k not in ("output_json", "noprogressbar")}
    Path(args.output_json).write_text(json.dumps(
        {"settings": settings, "targets": TARGETS, "judge_config": judge.config, "results": results,
         "benchmark": benchmark}, indent=2))
    print(f"written to {args.output_json}")


if __name__ == "__main__":
    run_cli(main)
