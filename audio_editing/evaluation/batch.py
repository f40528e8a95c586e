"""Batch evaluation over a manifest: every clip through each method, scores and a Table-1 summary.

Manifests: a SpeechBrain-style JSON dict ``{id: {"wav", "target_prompt", "edit_type", ...}}``,
a CSV with those columns, or the paper authors' format, a folder of ``.txt`` files whose first
line is the wav path and second the target prompt (edit type from the folder name). Optional
fields: ``mask_start``/``mask_end`` (inpainting), ``reference`` (a reference edit),
``added_prompt`` (addition: the added sound alone). Relative paths are relative to the manifest.

Results are appended to ``results.csv`` one clip at a time (atomically), so a killed batch
resumes where it stopped; ``evaluate.json`` records the edit settings, and a rerun with other
settings into the same folder is refused (its rows would mix two configurations). Every
clip of the manifest is read and checked before the first edit, so a bad clip stops the
batch at once, not hours in.
"""

import csv
import importlib.util
import io
import json
import time
from pathlib import Path
from typing import Dict, List

import torch

from audio_editing.data.audio import atomic_write, check_audible, load_audio, read_audio
from audio_editing.errors import UserError
from audio_editing.evaluation.metrics import mel_snr

EDIT_TYPES = ("addition", "style_transfer", "inpainting")
METHODS = {"imagic": [], "imagic_lora": ["--ft_mode=lora"]}  # method -> extra recipe flags
SETTINGS_FILE = "evaluate.json"
NOT_SETTINGS = ("ckpt_interval_steps", "log_interval")  # overrides that do not change results
RESULT_COLUMNS = ["id", "edit_type", "method", "best_eta", "text_clap", "audio_clap", "sum",
                  "text_clap_input", "eta0_mel_snr", "vae_mel_snr", "ref_mel_snr", "added_text_clap",
                  "seconds"]


def read_manifest(source) -> List[dict]:
    """Entries with absolute ``wav`` (and ``reference``) paths, in manifest order."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"manifest '{source}' does not exist; pass --manifest=<.json, .csv or folder of .txt>")
    if source.is_dir():
        entries = []
        for txt in sorted(source.rglob("*.txt")):
            lines = [line.strip() for line in txt.read_text().splitlines() if line.strip()]
            if len(lines) < 2:
                raise UserError(f"'{txt}' needs two lines: the wav path, then the target prompt")
            edit_type = txt.parent.name.lower().replace(" ", "_").replace("-", "_")
            entries.append({"id": txt.stem, "wav": lines[0], "target_prompt": lines[1],
                            "edit_type": edit_type, "_root": txt.parent})
    elif source.suffix == ".json":
        try:
            data = json.loads(source.read_text())
        except ValueError as err:
            raise UserError(f"manifest '{source}' is not valid JSON ({err})") from None
        entries = [dict(value, id=key, _root=source.parent) for key, value in data.items()]
    elif source.suffix == ".csv":
        with open(source, newline="") as f:
            entries = [dict(row, _root=source.parent) for row in csv.DictReader(f)]
    else:
        raise UserError(f"manifest '{source}' must be a .json or .csv file or a folder of .txt files")
    for entry in entries:
        root = entry.pop("_root")
        missing = [k for k in ("id", "wav", "target_prompt", "edit_type") if not entry.get(k)]
        if missing:
            raise UserError(f"manifest entry {entry.get('id', '?')} lacks {', '.join(missing)}")
        if entry["edit_type"] not in EDIT_TYPES:
            raise UserError(f"manifest entry {entry['id']}: unknown edit_type '{entry['edit_type']}'; "
                            f"use one of {', '.join(EDIT_TYPES)}")
        for key in ("wav", "reference"):
            if entry.get(key):
                entry[key] = str((root / entry[key]).resolve()) if not Path(entry[key]).is_absolute() \
                    else entry[key]
    return entries


def recipe_editor(edit_type: str, repo: Path):
    """The editor class that ``recipes/<edit_type>/edit.py`` defines (one folder per edit type)."""
    from audio_editing.editing.imagic import ImagicEditor

    script = repo / "recipes" / edit_type / "edit.py"
    spec = importlib.util.spec_from_file_location(f"recipe_{edit_type}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    editors = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, ImagicEditor) and v is not ImagicEditor]
    return editors[0]


def read_results(path: Path) -> List[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: List[dict], columns: List[str]) -> None:
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda tmp: Path(tmp).write_text(table.getvalue()))


def clip_metrics(entry: dict, result, scorer, logmel) -> dict:
    """Scores of the chosen edit plus the metrics none of the peers report."""
    best = result.best_index
    rate = result.sample_rate
    input_wav = load_audio(result.folder / "input.wav", rate)
    row = {"best_eta": result.etas[best], **{k: result.scores[k][best] for k in ("text_clap", "audio_clap", "sum")}}
    row["text_clap_input"] = scorer.text_scores(input_wav[None], rate, [entry["target_prompt"]]).item()
    reference_mel = logmel(input_wav[None])
    if 0.0 in result.etas:
        row["eta0_mel_snr"] = mel_snr(logmel(result.wavs[result.etas.index(0.0)][None]), reference_mel).item()
    row["vae_mel_snr"] = result.metrics.get("vae_mel_snr")
    if entry.get("reference"):
        reference = load_audio(entry["reference"], rate)[: result.wavs.shape[-1]]
        row["ref_mel_snr"] = mel_snr(logmel(result.wavs[best][None]), logmel(reference[None])).item()
    if entry.get("added_prompt"):
        added = scorer.text_scores(result.wavs, rate, [entry["added_prompt"]])
        row["added_text_clap"] = added[best].item()
        result.scores["added_text_clap"] = added.tolist()
    return row


def summary_table(rows: List[dict]) -> str:
    """Markdown table shaped like the paper's Table 1: mean per edit type and method."""
    columns = ["sum", "text_clap", "audio_clap", "text_clap_input", "eta0_mel_snr", "ref_mel_snr",
               "added_text_clap", "best_eta", "seconds"]
    lines = ["| edit type | method | clips | " + " | ".join(columns) + " |",
             "|" + "---|" * (len(columns) + 3)]
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        groups.setdefault((row["edit_type"], row["method"]), []).append(row)
    for (edit_type, method), group in sorted(groups.items()):
        cells = []
        for column in columns:
            values = [float(r[column]) for r in group if r.get(column) not in (None, "", "None")]
            cells.append(f"{sum(values) / len(values):.3f}" if values else "-")
        lines.append(f"| {edit_type} | {method} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def eta_rows(entry, method, result) -> List[dict]:
    return [{"id": entry["id"], "edit_type": entry["edit_type"], "method": method, "eta": eta,
             **{k: v[i] for k, v in result.scores.items()}} for i, eta in enumerate(result.etas)]


def check_entries(entries: List[dict]) -> None:
    """Read every clip (and reference) and check every prompt before anything is edited."""
    from audio_editing.editing.recipe import check_prompt

    for entry in entries:
        try:
            check_prompt(entry["target_prompt"])
            clip = read_audio(entry["wav"])
            check_audible(clip, clip.samples.mean(dim=0), entry["wav"])
            if entry.get("reference"):
                read_audio(entry["reference"])
        except UserError as err:
            raise UserError(f"manifest entry {entry['id']}: {err}") from None


def check_settings(output_folder: Path, edit_args: List[str]) -> dict:
    """The edit settings of this run; refuses a folder whose results were made with others."""
    from audio_editing.cli import parse_arguments

    _, _, overrides = parse_arguments(["hparams.yaml", *edit_args])
    settings = json.loads(json.dumps({k: v for k, v in overrides.items() if k not in NOT_SETTINGS},
                                     default=str))
    path = output_folder / SETTINGS_FILE
    if path.is_file():
        there = json.loads(path.read_text())
        differ = sorted(k for k in set(there) | set(settings) if there.get(k) != settings.get(k))
        if differ:
            raise UserError(f"'{output_folder}' holds results made with other edit settings (they differ in "
                            f"{', '.join('--' + k for k in differ)}); pass another --output_folder or delete it")
    return settings


def evaluate_manifest(entries: List[dict], methods: List[str], output_folder: Path, edit_args: List[str],
                      repo: Path) -> List[dict]:
    """Edit every (clip, method) not yet in results.csv; returns all result rows."""
    from audio_editing.cli import load_hparams, parse_arguments
    from audio_editing.editing.recipe import check_output_folder, run_edit

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if not methods:
        raise UserError(f"--methods is empty; choose from {', '.join(METHODS)}")
    check_entries(entries)
    check_output_folder(output_folder, [e[k] for e in entries for k in ("wav", "reference") if e.get(k)])
    settings = check_settings(output_folder, edit_args)
    atomic_write(output_folder / SETTINGS_FILE, lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=1)))
    results_path, eta_path = output_folder / "results.csv", output_folder / "eta_scores.csv"
    rows, per_eta = read_results(results_path), read_results(eta_path)
    done = {(r["id"], r["method"]) for r in rows}
    scorer = logmel = None
    for entry in entries:
        for method in methods:
            if (entry["id"], method) in done:
                continue
            argv = [str(repo / "hparams" / f"{entry['edit_type']}.yaml"), f"--input_wav={entry['wav']}",
                    f"--target_prompt={entry['target_prompt']}", f"--edit_id={entry['id']}",
                    f"--output_folder={output_folder / method / entry['edit_type']}", *METHODS[method],
                    *edit_args]
            if entry.get("mask_start") not in (None, ""):
                argv += [f"--mask_start={entry['mask_start']}", f"--mask_end={entry['mask_end']}"]
            start = time.time()
            result = run_edit(recipe_editor(entry["edit_type"], repo), argv)
            seconds = time.time() - start
            if scorer is None:  # the recipes' scorer and front end, with the same overrides
                _, _, overrides = parse_arguments([argv[0], *edit_args])
                overrides.update(input_wav=entry["wav"], target_prompt="-", edit_id="-")
                hparams, _ = load_hparams(argv[0], overrides)
                scorer, logmel = hparams["scorer"], hparams["ldm"].logmel
            with torch.no_grad():
                row = clip_metrics(entry, result, scorer, logmel)
            rows.append({"id": entry["id"], "edit_type": entry["edit_type"], "method": method,
                         "seconds": round(seconds, 1), **row})
            per_eta += eta_rows(entry, method, result)
            write_csv(eta_path, per_eta, list(dict.fromkeys(k for r in per_eta for k in r)))
            write_csv(results_path, rows, RESULT_COLUMNS)
    atomic_write(output_folder / "results.md", lambda tmp: Path(tmp).write_text(summary_table(rows)))
    return rows
