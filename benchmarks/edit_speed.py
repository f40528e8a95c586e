#!/usr/bin/env python3
"""Edit speed: the paper's schedule and the fast default side by side, on the same clips and backbone.

For each schedule and clip it runs a full edit (steps 1-3 and scoring, fresh output folder,
no resumption) and prints model load time, edit time (the sum of its phases) and wall time per phase,
peak GPU memory, and the quality numbers
(log-mel SNR of the eta=0 output to the input, Text/Audio scores at the chosen eta), then
the means and the paper/fast ratios. One more fast edit is timed as a whole process
(``python recipes/<type>/edit.py ...``: imports, model loading and writing included).

    python benchmarks/edit_speed.py --clips=3                      # CPU, embedded model
    python benchmarks/edit_speed.py --clips=27 --device=cuda       # the whole benchmark set
    python benchmarks/edit_speed.py --backbone=tango --device=cuda --manifest=my.csv
    # TANGO at its published size with random weights (timing and memory only), 1/10 of the paper
    # schedule run and its phase times scaled by 10:
    python benchmarks/edit_speed.py --backbone=tango --backbone_source=random --scorer_source=embedded:toy_world \
        --device=cuda --manifest=clip10s.csv --clips=1 --paper_fraction=0.1 --loss_batch=8 --emb_steps=40 ...

Schedules: ``paper`` = 500 embedding steps (Adam 2e-3), 1500 fine-tuning steps (1e-6),
one timestep per step, 200 DDIM steps, fp32; ``fast`` = the backbone's hparams file with the
extra command-line overrides, in ``--fast_precision`` (bf16 autocast on CUDA by default).
Extra overrides apply to both schedules; the paper schedule's own values win. A ``--variant
NAME=overrides`` is one more schedule (the fast one plus its overrides), e.g.
``--schedules=paper,fast,short --variant "short=--ft_steps=50 --sample_steps=25"``. ``--rows`` keeps
every finished edit in a JSON-lines file (a rerun skips them), ``--shard K/N`` splits the clips
over processes that share that file; a last run without ``--shard`` prints the whole table.
"""

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audio_editing.editing.recipe import PAPER_SETTINGS, PAPER_STEPS  # noqa: E402
from audio_editing.evaluation.batch import read_manifest, recipe_editor  # noqa: E402

PHASES = ("encode", "embedding", "finetune", "sampling", "scoring")
# The phase each step count drives: a shortened paper run scales these phases' seconds back up.
SCALED_PHASES = {"emb_steps": "embedding", "ft_steps": "finetune", "sample_steps": "sampling"}


def schedule_args(schedule: str, paper_fraction: float, fast_precision: str, variants=None) -> list:
    """The overrides of one schedule (the paper's step counts times ``paper_fraction``); a variant
    is the fast schedule plus its own overrides."""
    if schedule == "paper":
        steps = [f"--{key}={max(1, round(value * paper_fraction))}" for key, value in PAPER_STEPS.items()]
        return PAPER_SETTINGS + ["--precision=fp32", "--eval_precision=fp32"] + steps
    return [f"--precision={fast_precision}", f"--eval_precision={fast_precision}", *(variants or {}).get(schedule, [])]


def parse_variant(text: str):
    """``NAME=--key=value --key=value`` -> (NAME, [overrides])."""
    name, sep, overrides = text.partition("=")
    if not sep or not name or name in ("paper", "fast") or not overrides.split():
        raise argparse.ArgumentTypeError(f"--variant wants NAME=--key=value ..., not {text!r}")
    return name, overrides.split()


def pick_clips(entries, count):
    """``count`` clips taking the edit types in turn, so a small run still covers all three."""
    by_type = {}
    for entry in entries:
        by_type.setdefault(entry["edit_type"], []).append(entry)
    picked, queues = [], list(by_type.values())
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


def edit_args(entry, output_folder, extra):
    args = [str(REPO / "hparams" / f"{entry['edit_type']}.yaml"), f"--input_wav={entry['wav']}",
            f"--target_prompt={entry['target_prompt']}", f"--edit_id={entry['id']}",
            f"--output_folder={output_folder}", "--noprogressbar", *extra]
    if entry.get("mask_start") not in (None, ""):
        args += [f"--mask_start={entry['mask_start']}", f"--mask_end={entry['mask_end']}"]
    return args


def run_one(entry, schedule, args, workdir, paper_fraction=1.0):
    """One edit; with ``paper_fraction`` < 1 the step-driven phases are scaled by 1/fraction
    (their cost per step is constant) and the run's quality numbers are dropped (not the paper's)."""
    from audio_editing.editing.recipe import run_edit

    gc.collect()  # the previous edit's model (Brain <-> modules cycles) must not count in this one's peak
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = run_edit(recipe_editor(entry["edit_type"], REPO), edit_args(entry, workdir / schedule, args))
    total = time.perf_counter() - start
    row = {p: result.metrics[f"seconds_{p}"] for p in PHASES}
    row["seconds"] = sum(row.values())  # the edit itself, model loaded
    row["load"] = total - row["seconds"]  # building/loading the model and reading the input
    row.update({key: value for key, value in result.metrics.items() if key.startswith("steps_")})
    row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    if paper_fraction != 1.0:
        for phase in SCALED_PHASES.values():
            row["seconds"] += row[phase] * (1 / paper_fraction - 1)
            row[phase] /= paper_fraction
        return {**row, "eta0_snr": None, "text": None, "audio": None, "sum": None, "best_eta": None}
    best = result.best_index
    row["eta0_snr"] = result.scores["mel_snr_to_input"][result.etas.index(0.0)] if 0.0 in result.etas else None
    row.update(text=result.scores["text_clap"][best], audio=result.scores["audio_clap"][best],
               sum=result.scores["sum"][best], best_eta=result.etas[best])
    return row


def whole_process_seconds(entry, common, workdir):
    cmd = [sys.executable, str(REPO / "recipes" / entry["edit_type"] / "edit.py"),
           *edit_args(entry, workdir / "whole_process", common)]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def mean(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.mean(values) if values else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(REPO / "benchmarks/toy_world/manifest.json"))
    parser.add_argument("--clips", type=int, default=3, help="clips to edit (edit types in turn)")
    parser.add_argument("--schedules", default="paper,fast",
                        help="paper, fast, and any --variant names, comma-separated")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[],
                        help="a named fast-schedule variant, e.g. --variant 'short=--ft_steps=50 --sample_steps=25' "
                             "(repeatable; list its name in --schedules)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no_whole_process", action="store_true", help="skip the whole-process timing")
    parser.add_argument("--shard", default="0/1",
                        help="K/N: run only every N-th of the picked clips, starting at the K-th (several "
                             "processes with one --rows file share a long run; the last one prints all)")
    parser.add_argument("--rows", default=None,
                        help="a JSON-lines file: each finished edit is appended to it, and the edits it "
                             "already holds (same clip and schedule) are not run again, so a long run resumes")
    parser.add_argument("--paper_fraction", type=float, default=1.0,
                        help="run this fraction of the paper's step counts and scale its phase times up "
                             "(for slow backbones; its quality numbers are then not reported)")
    parser.add_argument("--fast_precision", default=None, choices=["fp32", "bf16", "fp16"],
                        help="autocast of the fast schedule (default: bf16 on CUDA, fp32 on CPU)")
    args, extra = parser.parse_known_args(argv)
    if not 0 < args.paper_fraction <= 1:
        parser.error("--paper_fraction must be in (0, 1]")
    fast_precision = args.fast_precision or ("bf16" if args.device.startswith("cuda") else "fp32")
    common = [f"--device={args.device}", *extra]  # e.g. --backbone=tango --loss_batch=8
    schedules = args.schedules.split(",")
    variants = dict(args.variant)
    unknown = [s for s in schedules if s not in ("paper", "fast", *variants)]
    if unknown:
        parser.error(f"unknown schedules {unknown}: use paper, fast or a --variant name")
    clips = pick_clips(read_manifest(args.manifest), args.clips)
    try:
        shard, shards = (int(x) for x in args.shard.split("/"))
        assert 0 <= shard < shards
    except (ValueError, AssertionError):
        parser.error(f"--shard wants K/N with 0 <= K < N, not {args.shard!r}")
    rows = {s: [] for s in schedules}
    done = {}
    if args.rows and Path(args.rows).exists():
        for line in Path(args.rows).read_text().splitlines():
            record = json.loads(line)
            done[record["id"], record["schedule"], tuple(record["args"])] = record["row"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for index, entry in enumerate(clips):
            for schedule in schedules:
                fraction = args.paper_fraction if schedule == "paper" else 1.0
                run_args = common + schedule_args(schedule, args.paper_fraction, fast_precision, variants)
                r = done.get((entry["id"], schedule, tuple(run_args)))
                if r is None and index % shards != shard:  # another process's clip: read its row at the end
                    continue
                if r is None:
                    r = run_one(entry, schedule, run_args, workdir, fraction)
                    if args.rows:
                        with open(args.rows, "a") as f:
                            record = {"id": entry["id"], "schedule": schedule, "args": run_args, "row": r}
                            f.write(json.dumps(record) + "\n")
                rows[schedule].append(r)
                quality = ("quality n/a (shortened run)" if r["text"] is None else
                           f"eta0 SNR {r['eta0_snr']:.2f} dB  text {r['text']:.3f}  audio {r['audio']:.3f}")
                print(f"{entry['id']:<20} {schedule:<6} {r['seconds']:7.1f} s  {quality}", flush=True)
        whole = None if args.no_whole_process else whole_process_seconds(
            clips[0], common + schedule_args("fast", 1.0, fast_precision), workdir)

    keys = ["load", "seconds", *PHASES, "steps_embedding", "steps_finetune", "eta0_snr", "text", "audio", "sum",
            "peak_gib"]
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    scaled = f"; paper phases scaled from a {args.paper_fraction:g} run" if args.paper_fraction != 1 else ""
    print(f"\n{len(clips)} clips, {device_name}, fast in {fast_precision}, extra {extra or 'none'} (means{scaled})")
    print("| schedule | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 1))
    for schedule in schedules:
        print(f"| {schedule} | " + " | ".join(f"{mean(rows[schedule], k):.3f}" for k in keys) + " |")
    if "paper" in schedules:
        print()
        p = rows["paper"]
        for schedule in schedules:
            if schedule != "paper":
                f = rows[schedule]
                print(f"speed-up paper/{schedule}: {mean(p, 'seconds') / mean(f, 'seconds'):.2f}x; "
                      f"eta0 SNR {schedule}-paper: {mean(f, 'eta0_snr') - mean(p, 'eta0_snr'):+.2f} dB; "
                      f"CLAP sum {schedule}/paper: {mean(f, 'sum') / mean(p, 'sum'):.3f}")
    if whole is not None:
        print(f"whole process, fast schedule, {clips[0]['id']}: {whole:.1f} s")


if __name__ == "__main__":
    main()
