"""Batch evaluation over a manifest: every clip through each method, scores and a Table-1 summary.

Methods: ``imagic`` (the recipes' defaults), ``imagic_paper`` (the paper's configuration,
``hparams/presets/paper.yaml``), ``imagic_lora``, and the baselines ``sdedit``,
``ddpm_inversion`` and ``inversion_free`` (``editing/baselines.py``), all on the recipes' backbone, each clip edited
by its edit type's editor (so inpainting keeps its observed audio whatever the method); and two
rows that are not edits, ``identity`` (the input unchanged) and ``reference`` (the reference edit).
With a judge (the toy world's sound-event detector) every output of a clip with ground truth gets
its verdict (``judge_success``, ``judge_target``, ``judge_preservation``, ``judge_event_f1``).

The house of the evaluation: manifests are read in ``manifests.py``, the rows and their files are
``rows.py``'s, ``results.md`` and the figures ``tables.py``'s, judging a finished folder again ``rejudge.py``'s;
this file edits and scores the clips.

Results are appended to ``results.csv`` one clip at a time (atomically), so a killed batch
resumes where it stopped; ``evaluate.json`` records the edit settings (the command-line overrides
and a fingerprint of each edit type's hparams files), and a rerun with other
settings into the same folder is refused (its rows would mix two configurations). Every clip of
the manifest is read and checked before the first edit, so a bad clip stops the batch at once,
not hours in. Under ``torchrun`` each rank edits its share of the clips and keeps its rows in
``ranks/``; rank 0 merges them after a barrier (``evaluation/distributed.py``).
"""

import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Dict, List

import torch

from audio_editing.cli import compose_hparams_text, parse_arguments
from audio_editing.data.audio import atomic_write, load_audio
from audio_editing.editing.baselines import FIXED_OUTPUTS, with_edit_type, with_reference
from audio_editing.editing.edit_types import editor_class
from audio_editing.editing.methods import EDITORS, flags_read_by, method_applies
from audio_editing.errors import UserError
from audio_editing.evaluation.distributed import Shard
from audio_editing.evaluation.manifests import check_entries
from audio_editing.evaluation.metrics import mel_snr
from audio_editing.evaluation.rows import (JUDGE_COLUMNS, METHODS, RESULT_COLUMNS, collect_results, rank_files, read_results,
                                          row_method, write_csv, written_outputs)
from audio_editing.evaluation.tables import write_results


SETTINGS_FILE = "evaluate.json"
HPARAMS_KEY = "hparams_sha1"  # in SETTINGS_FILE: hparams_fingerprints of the edit types evaluated
NOT_SETTINGS = ("ckpt_interval_steps", "log_interval", "device")  # overrides that do not change results
# keys that only choose among the outputs (``--rejudge --reselect`` chooses again): a results folder stays valid
SELECTION_KEYS = ("eta_selection", "onset_weight")


def method_editor(method: str, entry: dict):
    """The editor of ``method`` for the clip ``entry``: its edit type's editor (``edit_types.editor_class``), or a
    baseline (or the identity / reference output) with the edit type's hooks."""
    editor = editor_class(entry["edit_type"])
    other = {**EDITORS, **FIXED_OUTPUTS}.get(method)
    if other is None:
        return editor
    editor = with_edit_type(other, editor)
    return with_reference(editor, entry["reference"]) if method == "reference" else editor


def clip_metrics(entry: dict, result, scorer, logmel, judge=None) -> dict:
    """Scores of the chosen edit plus the metrics none of the peers report; with a ``judge`` and a clip
    with ground truth (the toy-world benchmark), the judge's verdict on every output as written (what a
    user gets, clipped where a 16-bit file clips), in ``result.scores``."""
    verdicts = None
    if judge is not None:
        outputs = written_outputs(result.folder, result.etas, result.sweep, judge.sample_rate)
        verdicts = judge.judge_outputs(entry, outputs, judge.sample_rate)
    if verdicts:  # {column: [value per eta / strength]}
        result.scores.update({column: [verdict[column] for verdict in verdicts] for column in JUDGE_COLUMNS})
    best = result.best_index
    rate = result.sample_rate
    input_wav = load_audio(result.folder / "input.wav", rate)
    row = {"best_eta": result.etas[best], "inversion_strength": result.metrics.get("inversion_strength"),
           **{k: result.scores[k][best] for k in ("text_clap", "audio_clap", "sum", "onset_f1", "text_clap_span",
                                                   *JUDGE_COLUMNS) if k in result.scores}}
    row["text_clap_input"] = result.metrics["text_clap_input"]
    reference_mel = logmel(input_wav[None])
    if result.sweep == "eta" and 0.0 in result.etas:
        row["eta0_mel_snr"] = mel_snr(logmel(result.wavs[result.etas.index(0.0)][None]), reference_mel).item()
    # inpainting: steps 1-2 alone on the observed audio (the edits match it there by construction)
    for key in ("vae_mel_snr", "eta0_free_mel_snr_observed", "eta0_span_held_mel_snr_observed",
                "vae_mel_snr_observed"):
        row[key] = result.metrics.get(key)
    if entry.get("reference"):  # at every value, so that another selection rule can be read off eta_scores
        reference = load_audio(entry["reference"], rate)[: result.wavs.shape[-1]]
        result.scores["ref_mel_snr"] = mel_snr(logmel(result.wavs), logmel(reference[None])).tolist()
        span = result.metrics.get("span_seconds")
        if span:  # inpainting: the filled span alone (the observed audio matches the reference by design)
            start, end = (round(s * rate) for s in span)
            result.scores["ref_mel_snr_span"] = mel_snr(logmel(result.wavs[:, start:end]),
                                                        logmel(reference[None, start:end])).tolist()
        row.update({k: result.scores[k][best] for k in ("ref_mel_snr", "ref_mel_snr_span") if k in result.scores})
    if entry.get("added_prompt"):
        added = scorer.text_scores(result.wavs, rate, [entry["added_prompt"]])
        row["added_text_clap"] = added[best].item()
        result.scores["added_text_clap"] = added.tolist()
    return row


def eta_rows(entry, method, result) -> List[dict]:
    return [{"id": entry["id"], "edit_type": entry["edit_type"], "method": method, "sweep": result.sweep, "eta": eta,
             **{k: v[i] for k, v in result.scores.items()}} for i, eta in enumerate(result.etas)]


class ClipEvaluator:
    """Edits one (clip, method) through the recipe of its edit type and computes its result row. Each edit
    type's model and scorer are loaded once, for all its clips and methods (``api.Models``)."""

    def __init__(self, output_folder: Path, edit_args: List[str], repo: Path, judge=None):
        self.output_folder, self.edit_args, self.repo, self.judge = output_folder, edit_args, repo, judge
        self.models = {}  # hparams file -> its Models

    def models_for(self, hparams_file: str, entry: dict):
        """The model and scorer of ``hparams_file`` with the batch's settings, loaded on first use."""
        from audio_editing.api import Models
        from audio_editing.cli import load_hparams

        if hparams_file not in self.models:
            _, _, overrides = parse_arguments([hparams_file, *self.edit_args])
            overrides.update(input_wav=entry["wav"], target_prompt="-", edit_id="-")
            self.models[hparams_file] = Models.of(load_hparams(hparams_file, overrides)[0])
        return self.models[hparams_file]

    def __call__(self, entry: dict, method: str):
        from audio_editing import recipe

        flags = [*METHODS[method], *self.edit_args]
        if entry.get("source_prompt"):  # read by --init=source only
            flags += [f"--source_prompt={entry['source_prompt']}"]
        if entry.get("mask_start") not in (None, ""):
            flags += [f"--mask_start={entry['mask_start']}", f"--mask_end={entry['mask_end']}"]
        argv = [str(self.repo / "hparams" / f"{entry['edit_type']}.yaml"), f"--input_wav={entry['wav']}",
                f"--target_prompt={entry['target_prompt']}", f"--edit_id={entry['id']}",
                f"--output_folder={self.output_folder / method / entry['edit_type']}",
                *flags_read_by(row_method(method), flags)]  # settings shared by the rows: each takes its own
        models = self.models_for(argv[0], entry)
        start = time.time()
        result = recipe.run_edit(method_editor(method, entry), argv, models)
        seconds = time.time() - start
        with torch.no_grad():  # the recipe's scorer and front end
            row = clip_metrics(entry, result, models.scorer, models.ldm.logmel, self.judge)
        row = {"id": entry["id"], "edit_type": entry["edit_type"], "method": method, "seconds": round(seconds, 1),
               **row}
        return row, eta_rows(entry, method, result)


def hparams_fingerprints(repo: Path, edit_types, backbone: str = None) -> Dict[str, str]:
    """{edit type: sha1 of its recipe's and backbone's hparams as they would be joined, and of the presets the
    rows may apply}; comments, blank lines and the selection keys are left out, so only a changed value that
    changes an edit changes it."""
    prints = {}
    presets = "".join(f"\n{path.read_text()}" for path in sorted((repo / "hparams" / "presets").glob("*.yaml")))
    for edit_type in sorted(set(edit_types)):
        text, _ = compose_hparams_text(repo / "hparams" / f"{edit_type}.yaml", backbone)
        text += presets
        lines = (re.sub(r"\s+#.*$", "", line).rstrip() for line in text.splitlines())
        body = "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#")
                          and line.partition(":")[0].strip() not in SELECTION_KEYS)
        prints[edit_type] = hashlib.sha1(body.encode()).hexdigest()[:12]
    return prints


def check_settings(output_folder: Path, edit_args: List[str], repo: Path, edit_types) -> dict:
    """The edit settings of this run (command-line overrides and the ``hparams_fingerprints`` of
    ``edit_types``); refuses a folder whose results were made with others. Fingerprints are compared for
    the edit types both runs have (a folder written before they were recorded has none)."""
    _, _, overrides = parse_arguments(["hparams.yaml", *edit_args])
    if "method" in overrides:
        raise UserError("--method is set per row here: choose the rows with --methods=[...] "
                        f"(any of {', '.join(METHODS)})")
    settings = json.loads(json.dumps({k: v for k, v in overrides.items() if k not in NOT_SETTINGS + SELECTION_KEYS},
                                     default=str))
    fingerprints = hparams_fingerprints(repo, edit_types, overrides.get("backbone"))
    path = output_folder / SETTINGS_FILE
    there = json.loads(path.read_text()) if path.is_file() else None
    there_prints = there.pop(HPARAMS_KEY, {}) if there is not None else {}
    if there is not None:
        differ = [f"--{k}" for k in sorted(set(there) | set(settings)) if there.get(k) != settings.get(k)]
        differ += [f"the hparams files of {edit_type}" for edit_type, value in sorted(fingerprints.items())
                   if there_prints.get(edit_type, value) != value]
        if differ:
            raise UserError(f"'{output_folder}' holds results made with other edit settings (they differ in "
                            f"{', '.join(differ)}); pass another --output_folder or delete it")
    settings[HPARAMS_KEY] = {**there_prints, **fingerprints}
    return settings


def evaluate_manifest(entries: List[dict], methods: List[str], output_folder: Path, edit_args: List[str],
                      repo: Path, shard: Shard = None, judge=None) -> List[dict]:
    """Edit every (clip, method) not yet in the results; returns all result rows, in manifest order.

    ``judge``: a ground-truth judge (``audio_editing.registry.load_judge``) whose
    verdict on every output of clips with ground truth joins the rows; None: none.
    Single process: rows go to results.csv as each clip finishes. Under torchrun, rank r edits
    the clips it owns and keeps its rows in ``ranks/results_rank<r>.csv``; after a barrier rank 0
    merges every rank's rows into results.csv, eta_scores.csv, results.md and the figures.
    """
    shard = shard or Shard.from_env()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if not methods:
        raise UserError(f"--methods is empty; choose from {', '.join(METHODS)}")
    from audio_editing.editing.checks import check_output_folder

    check_entries(entries)
    if "reference" in methods:
        lacking = [e["id"] for e in entries if not e.get("reference")]
        if lacking:
            raise UserError(f"--methods has 'reference' but {len(lacking)} clip(s) have no reference edit "
                            f"({', '.join(lacking[:3])}); leave 'reference' out for this manifest")
    check_output_folder(output_folder, [e[k] for e in entries for k in ("wav", "reference") if e.get(k)])
    settings = check_settings(output_folder, edit_args, repo, [e["edit_type"] for e in entries])
    if shard.is_main:
        atomic_write(output_folder / SETTINGS_FILE,
                     lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=1)))
    keys = [(entry["id"], method) for entry in entries for method in methods
            if method_applies(method, entry["edit_type"])]
    rows, per_eta = collect_results(output_folder, keys)
    done = {(r["id"], r["method"]) for r in rows}
    if shard.distributed:  # this rank's own files; the others' are merged at the end
        own_paths = rank_files(output_folder, shard.rank)
        rows, per_eta = read_results(own_paths[0]), read_results(own_paths[1])
    else:
        own_paths = [output_folder / "results.csv", output_folder / "eta_scores.csv"]
    evaluate_clip = ClipEvaluator(output_folder, shard.device_args(edit_args), repo, judge)
    with shard.editing():
        for index, entry in enumerate(entries):
            for method in methods:
                if (not shard.owns(index) or (entry["id"], method) in done
                        or not method_applies(method, entry["edit_type"])):
                    continue
                row, scores = evaluate_clip(entry, method)
                rows.append(row)
                per_eta += scores
                write_csv(own_paths[1], per_eta, list(dict.fromkeys(k for r in per_eta for k in r)))
                write_csv(own_paths[0], rows, RESULT_COLUMNS)
    shard.barrier()
    if shard.is_main:
        rows, per_eta = collect_results(output_folder, keys)
        write_results(output_folder, rows, per_eta)
        shutil.rmtree(output_folder / "ranks", ignore_errors=True)  # merged: results.csv holds their rows
    shard.barrier()
    return read_results(output_folder / "results.csv")
