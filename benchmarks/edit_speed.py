#!/usr/bin/env python3
"""Edit speed: the paper's schedule and the fast default side by side, on the same clips and backbone.

For each schedule and clip it runs a full edit (steps 1-3 and scoring, fresh output folder,
no resumption) and prints model load time, edit time (the sum of its phases) and wall time per phase,
the time of a further prompt on the same fit, peak GPU memory, and the quality numbers
(log-mel SNR of the eta=0 output to the input, Text/Audio scores at the chosen eta), then
the means and the paper/fast and further/first ratios. One more fast edit is timed as a whole process
(``python recipes/<type>/edit.py ...``: imports, model loading and writing included).

A further prompt (``--further_prompt``) is step 3 of a second prompt on the first edit's fit, in the
same process (``Editor.edit``: model and fit loaded). Where the schedule's fit depends on the prompt
(``init: target``, the hparams files' default) a further prompt fits again: its time is the whole edit's,
and the table says so; ``--variant "reprompt=--init=empty"`` is a schedule whose fit serves every prompt.
``--further_process`` also times it as a whole process: the recipe command with the second prompt and
the same ``--output_folder``, which finds the first edit's fit and runs step 3 only.

    python benchmarks/edit_speed.py --clips=3                      # CPU, embedded model
    python benchmarks/edit_speed.py --clips=3 --schedules=paper,fast,reprompt --variant "reprompt=--init=empty" \
        --further_process                                          # further prompts, also as a process
    python benchmarks/edit_speed.py --clips=27 --device=cuda       # the whole benchmark set
    python benchmarks/edit_speed.py --backbone=tango --device=cuda --manifest=my.csv
    # TANGO at its published size with random weights (timing and memory only), 1/10 of the paper
    # schedule run and its phase times scaled by 10:
    python benchmarks/edit_speed.py --backbone=tango --backbone_source=random --scorer_source=embedded:toy_world \
        --device=cuda --manifest=clip10s.csv --clips=1 --paper_fraction=0.1 --loss_batch=8 --emb_steps=40 ...
    # Stable Audio Open (stereo 44.1 kHz DiT) with random weights: tiny on the CPU, the published size on a GPU
    python benchmarks/edit_speed.py --backbone=stable_audio_open --backbone_source=random:tiny \
        --scorer_source=embedded:toy_world --window_seconds=2.56 --clips=1 --schedules=fast --ft_mode=lora \
        --emb_steps=10 --ft_steps=10 --sample_steps=10 --etas=[0,1]
    python benchmarks/edit_speed.py --backbone=stable_audio_open --backbone_source=random \
        --scorer_source=embedded:toy_world --window_seconds=10 --device=cuda --clips=1 --schedules=fast --ft_mode=lora

Schedules: ``paper`` = 500 embedding steps (Adam 2e-3), 1500 fine-tuning steps (1e-6),
one timestep per step, 200 DDIM steps, fp32; ``fast`` = the backbone's hparams file with the
extra command-line overrides, in ``--fast_precision`` (bf16 autocast on CUDA by default).
Both time the Imagic method (``--method=imagic``, every recipe's default; addition's layer is timed by
``--variant "layer=--method=layer"`` on an addition manifest).
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

from audio_editing.recipe import PAPER_SETTINGS, PAPER_STEPS, recipe_edit  # noqa: E402
from audio_editing.editing.edit_types import editor_class  # noqa: E402
from audio_editing.evaluation.manifests import read_manifest  # noqa: E402

PHASES = ("encode", "embedding", "finetune", "sampling", "scoring")
# The phase each step count drives: a shortened paper run scales these phases' seconds back up.
SCALED_PHASES = {"emb_steps": "embedding", "ft_steps": "finetune", "sample_steps": "sampling"}
NAN = float("nan")
REUSED = "steps 1-2 reused"  # what a recipe run logs when it finds its input's fit


def schedule_args(schedule: str, paper_fraction: float, fast_precision: str, variants=None) -> list:
    """The overrides of one schedule (the paper's step counts times ``paper_fraction``); a variant
    is the fast schedule plus its own overrides."""
    if schedule == "paper":
        steps = [f"--{key}={max(1, round(value * paper_fraction))}" for key, value in PAPER_STEPS.items()]
        return ["--method=imagic", *PAPER_SETTINGS, "--precision=fp32", "--eval_precision=fp32", *steps]
    return ["--method=imagic", f"--precision={fast_precision}", f"--eval_precision={fast_precision}",
            *(variants or {}).get(schedule, [])]


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


def edit_args(entry, output_folder, extra, further_prompt=None):
    """The recipe's arguments for the clip's edit, or for ``further_prompt`` on it (its own edit folder)."""
    prompt, edit_id = (entry["target_prompt"], entry["id"]) if further_prompt is None else \
        (further_prompt, f"{entry['id']}_further")
    args = [str(REPO / "hparams" / f"{entry['edit_type']}.yaml"), f"--input_wav={entry['wav']}",
            f"--target_prompt={prompt}", f"--edit_id={edit_id}",
            f"--output_folder={output_folder}", "--noprogressbar", *extra]
    if entry.get("mask_start") not in (None, ""):
        args += [f"--mask_start={entry['mask_start']}", f"--mask_end={entry['mask_end']}"]
    return args


def further_prompt_seconds(edit, prompt, paper_fraction=1.0):
    """Step 3 of ``prompt`` on the fit ``edit`` came from, in process (model and fit loaded): the sum of its
    phases, sampling scaled like the edit's; None where the fit depends on the prompt (init=target)."""
    fit = edit.fit
    if fit.prompt is not None:
        return None
    metrics = fit.editor.edit(fit, prompt).result.metrics
    return metrics["seconds_sampling"] / paper_fraction + metrics["seconds_scoring"]


def run_one(entry, schedule, args, workdir, paper_fraction=1.0, further_prompt="a dog barks"):
    """One edit, then ``further_prompt`` on its fit; with ``paper_fraction`` < 1 the step-driven phases are
    scaled by 1/fraction (their cost per step is constant) and the run's quality numbers are dropped
    (not the paper's). A fit that depends on the prompt gives the whole edit's time as the further
    prompt's (``further_refits``)."""
    gc.collect()  # the previous edit's model (Brain <-> modules cycles) must not count in this one's peak
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    edit = recipe_edit(editor_class(entry["edit_type"]), edit_args(entry, workdir / schedule, args))
    total = time.perf_counter() - start
    result = edit.result
    row = {p: result.metrics.get(f"seconds_{p}", 0.0) for p in PHASES}  # a method that trains nothing: no steps 1-2
    row["seconds"] = sum(row.values())  # the edit itself, model loaded
    row["load"] = total - row["seconds"]  # building/loading the model and reading the input
    row.update({key: value for key, value in result.metrics.items() if key.startswith("steps_")})
    row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    if paper_fraction != 1.0:
        for phase in SCALED_PHASES.values():
            row["seconds"] += row[phase] * (1 / paper_fraction - 1)
            row[phase] /= paper_fraction
    further = further_prompt_seconds(edit, further_prompt, paper_fraction)
    row["further_refits"] = further is None
    row["further"] = row["seconds"] if further is None else further
    if paper_fraction != 1.0:  # a shortened run's quality is not the paper's
        return {**row, "eta0_snr": None, "text": None, "audio": None, "sum": None, "best_eta": None}
    best = result.best_index
    row["eta0_snr"] = result.scores["mel_snr_to_input"][result.etas.index(0.0)] if 0.0 in result.etas else None
    row.update(text=result.scores["text_clap"][best], audio=result.scores["audio_clap"][best],
               sum=result.scores["sum"][best], best_eta=result.etas[best])
    return row


def whole_process_seconds(entry, args, output_folder, further_prompt=None):
    """Seconds of the recipe command (``edit_args``) as a whole process, and what it logged."""
    cmd = [sys.executable, str(REPO / "recipes" / entry["edit_type"] / "edit.py"),
           *edit_args(entry, output_folder, args, further_prompt)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout + done.stderr


def further_process_seconds(entry, args, output_folder, further_prompt):
    """Seconds of ``further_prompt`` on the clip already edited in ``output_folder``, as a whole process;
    an error unless the run reused the clip's fit."""
    seconds, log = whole_process_seconds(entry, args, output_folder, further_prompt)
    if REUSED not in log:
        raise RuntimeError(f"the further prompt on {entry['id']} did not reuse its fit in {output_folder}:\n{log}")
    return seconds


def mean(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.mean(values) if values else NAN


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
    parser.add_argument("--further_prompt", default="a dog barks",
                        help="the second prompt edited on each clip's fit (a further prompt)")
    parser.add_argument("--further_process", action="store_true",
                        help="also time the further prompt as a whole process, per schedule whose fit serves "
                             "every prompt, on the first clip this process edits")
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
    further_process = {}  # schedule -> (clip id, seconds)
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
                    r = run_one(entry, schedule, run_args, workdir, fraction, args.further_prompt)
                    if args.further_process and not r["further_refits"] and schedule not in further_process:
                        further_process[schedule] = entry["id"], further_process_seconds(
                            entry, run_args, workdir / schedule, args.further_prompt)
                    if args.rows:
                        with open(args.rows, "a") as f:
                            record = {"id": entry["id"], "schedule": schedule, "args": run_args, "row": r}
                            f.write(json.dumps(record) + "\n")
                rows[schedule].append(r)
                quality = ("quality n/a (shortened run)" if r["text"] is None else
                           f"eta0 SNR {r['eta0_snr']:.2f} dB  text {r['text']:.3f}  audio {r['audio']:.3f}")
                further = "refits (init=target)" if r.get("further_refits") else f"{r.get('further', NAN):.1f} s"
                print(f"{entry['id']:<20} {schedule:<6} {r['seconds']:7.1f} s  further {further}  {quality}",
                      flush=True)
        whole = None if args.no_whole_process else whole_process_seconds(
            clips[0], common + schedule_args("fast", 1.0, fast_precision), workdir / "whole_process")[0]

    keys = ["load", "seconds", "further", *PHASES, "steps_embedding", "steps_finetune", "eta0_snr", "text", "audio",
            "sum", "peak_gib"]
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    scaled = f"; paper phases scaled from a {args.paper_fraction:g} run" if args.paper_fraction != 1 else ""
    print(f"\n{len(clips)} clips, {device_name}, fast in {fast_precision}, extra {extra or 'none'} (means{scaled})")
    print("| schedule | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 1))
    refits = {schedule: any(r.get("further_refits") for r in rows[schedule]) for schedule in schedules}
    for schedule in schedules:
        cells = {k: f"{mean(rows[schedule], k):.3f}" for k in keys}
        if refits[schedule]:
            cells["further"] += " (refits: init=target)"
        print(f"| {schedule} | " + " | ".join(cells.values()) + " |")
    print("\nfurther prompt (step 3 on a fitted clip, in process) / first edit:")
    for schedule in schedules:
        first, further = mean(rows[schedule], "seconds"), mean(rows[schedule], "further")
        note = " (init=target: the fit depends on the prompt, a further prompt fits again)" if refits[schedule] else ""
        print(f"  {schedule}: {further:.1f} s / {first:.1f} s = {further / first:.2f}{note}")
    if "paper" in schedules:
        print()
        p = rows["paper"]
        for schedule in schedules:
            if schedule != "paper":
                f = rows[schedule]
                print(f"speed-up paper/{schedule}: {mean(p, 'seconds') / mean(f, 'seconds'):.2f}x "
                      f"(further prompt {mean(p, 'further') / mean(f, 'further'):.2f}x); "
                      f"eta0 SNR {schedule}-paper: {mean(f, 'eta0_snr') - mean(p, 'eta0_snr'):+.2f} dB; "
                      f"CLAP sum {schedule}/paper: {mean(f, 'sum') / mean(p, 'sum'):.3f}")
    if whole is not None:
        print(f"whole process, fast schedule, {clips[0]['id']}: {whole:.1f} s")
    for schedule, (clip, seconds) in further_process.items():
        print(f"whole process, further prompt, {schedule} schedule, {clip}: {seconds:.1f} s ({REUSED})")


if __name__ == "__main__":
    main()
