"""Batch evaluation over a manifest: every clip through each method, scores and a Table-1 summary.

Methods: ``imagic`` (the recipes' defaults), ``imagic_paper`` (the paper's configuration,
``hparams/presets/paper.yaml``), ``imagic_lora``, and the baselines ``sdedit``,
``ddpm_inversion`` and ``inversion_free`` (``editing/baselines.py``), all on the recipes' backbone, each clip edited
by its edit type's editor (so inpainting keeps its observed audio whatever the method); and two
rows that are not edits, ``identity`` (the input unchanged) and ``reference`` (the reference edit).
With a judge (the toy world's sound-event detector) every output of a clip with ground truth gets
its verdict (``judge_success``, ``judge_target``, ``judge_preservation``, ``judge_event_f1``).

Manifests: a SpeechBrain-style JSON dict ``{id: {"wav", "target_prompt", "edit_type", ...}}``,
a CSV with those columns, or the paper authors' format, a folder of ``.txt`` files whose first
line is the wav path and second the target prompt (edit type: the first folder below the root). Optional
fields: ``mask_start``/``mask_end`` (inpainting), ``reference`` (a reference edit),
``added_prompt`` (addition: the added sound alone). Relative paths are relative to the manifest.

Results are appended to ``results.csv`` one clip at a time (atomically), so a killed batch
resumes where it stopped; ``evaluate.json`` records the edit settings (the command-line overrides
and a fingerprint of each edit type's hparams files), and a rerun with other
settings into the same folder is refused (its rows would mix two configurations). Every clip of
the manifest is read and checked before the first edit, so a bad clip stops the batch at once,
not hours in. Under ``torchrun`` each rank edits its share of the clips and keeps its rows in
``ranks/``; rank 0 merges them after a barrier (``evaluation/distributed.py``).
"""

import csv
import hashlib
import io
import json
import math
import re
import shutil
import time
from pathlib import Path
from typing import Dict, List

import soundfile
import torch

from audio_editing.cli import compose_hparams_text, list_arg, parse_arguments
from audio_editing.data.audio import atomic_write, check_audible, load_audio, read_audio, resample
from audio_editing.editing.baselines import FIXED_OUTPUTS, with_edit_type, with_reference
from audio_editing.editing.edit_types import EDIT_TYPES, editor_class
from audio_editing.editing.selection import ONSET_WEIGHT, select_index
from audio_editing.editing.methods import EDITORS, flags_read_by, method_applies
from audio_editing.editing.outputs import edit_wav_name
from audio_editing.errors import UserError
from audio_editing.evaluation.distributed import Shard
from audio_editing.evaluation.metrics import mel_snr
from audio_editing.plots import plot_mean_scores_vs_sweep, plot_tradeoff

# method -> extra recipe flags; the baselines' editors come from editing/baselines.py
# (imagic: the recipes' defaults; imagic_paper: the paper's configuration, hparams/presets/paper.yaml)
# (each row names its method to the recipe: a recipe's default ``method`` does not change the row)
METHODS = {"imagic": ["--method=imagic"], "imagic_paper": ["--preset=paper", "--method=imagic"],
           "imagic_lora": ["--ft_mode=lora", "--method=imagic"], "sdedit": ["--method=sdedit"],
           "ddpm_inversion": ["--method=ddpm_inversion"], "inversion_free": ["--method=inversion_free"],
           "layer": ["--method=layer"], "identity": [], "reference": []}


def row_method(row: str) -> str:
    """The editor method a row of ``METHODS`` runs (``imagic_lora``: imagic); identity and reference are their own.

    Example
    -------
    >>> row_method("imagic_paper"), row_method("reference")
    ('imagic', 'reference')
    """
    flags = [flag for flag in METHODS[row] if flag.startswith("--method=")]
    return flags[-1].partition("=")[2] if flags else row
JUDGE_COLUMNS = ["judge_success", "judge_target", "judge_preservation", "judge_event_f1"]
SETTINGS_FILE = "evaluate.json"
HPARAMS_KEY = "hparams_sha1"  # in SETTINGS_FILE: hparams_fingerprints of the edit types evaluated
NOT_SETTINGS = ("ckpt_interval_steps", "log_interval", "device")  # overrides that do not change results
# keys that only choose among the outputs (``--rejudge --reselect`` chooses again): a results folder stays valid
SELECTION_KEYS = ("eta_selection", "onset_weight")
# best_eta: the chosen eta, or the chosen strength for a baseline; inversion_strength and inversion_source: the
# method's sweep kept, where step 3 swept several inversion strengths or sources
RESULT_COLUMNS = ["id", "edit_type", "method", "best_eta", "inversion_strength", "inversion_source", *JUDGE_COLUMNS,
                  "text_clap", "audio_clap", "sum", "onset_f1",
                  "text_clap_input", "eta0_mel_snr", "vae_mel_snr", "ref_mel_snr", "added_text_clap",
                  "text_clap_span", "ref_mel_snr_span", "eta0_free_mel_snr_observed",
                  "eta0_span_held_mel_snr_observed", "vae_mel_snr_observed", "seconds"]


def read_txt_folder(root: Path) -> List[dict]:
    """The paper authors' layout: ``<root>/<edit_type>/[<clip folders>/]<clip>.txt``, line 1 the wav (relative
    to the .txt; when it names no file, the ``<clip>.wav`` beside the .txt), line 2 the target prompt. The id
    is the edit type and the path below its folder joined by ``_`` (``addition/audit/e1.txt`` ->
    ``addition_audit_e1``, ``Style-Transfer/e1.txt`` -> ``style_transfer_e1``): the authors' names repeat
    across edit types and sub-folders (``addition/e1``, ``inpainting/e1``, ``addition/audit/e1``), and an id
    names a folder of outputs, so it keeps both and no ``/``."""
    txts = sorted(root.rglob("*.txt"))
    if not txts:
        raise UserError(f"manifest folder '{root}' holds no .txt file; lay it out as <edit_type>/<clip>.txt")
    loose = [str(txt) for txt in txts if txt.parent == root]
    if loose:
        raise UserError(f"{', '.join(loose)}: a .txt directly in the manifest folder has no edit type; move it into "
                        f"a folder named for its edit type ({', '.join(EDIT_TYPES)})")
    folder_type = {t.replace("_", ""): t for t in EDIT_TYPES}  # 'Style Transfer', 'style-transfer' alike
    entries, unknown, missing, seen = [], set(), [], {}
    for txt in txts:
        parts = txt.relative_to(root).parts
        edit_type = folder_type.get(re.sub(r"[\s_-]", "", parts[0].lower()))
        if edit_type is None:
            unknown.add(parts[0])
            continue
        lines = [line.strip() for line in txt.read_text().splitlines() if line.strip()]
        if len(lines) < 2:
            raise UserError(f"'{txt}' needs two lines: the wav path, then the target prompt")
        named = txt.parent / lines[0]
        wav = next((w for w in (named, txt.parent / Path(lines[0]).name, txt.with_suffix(".wav")) if w.is_file()),
                   None)
        if wav is None:
            missing.append(str(txt))
        clip_id = "_".join((edit_type, *Path(*parts[1:]).with_suffix("").parts))
        if clip_id in seen:
            raise UserError(f"'{seen[clip_id]}' and '{txt}' both give clip id '{clip_id}' (the edit type and the "
                            "path below its folder, '/' as '_'); rename one of them")
        seen[clip_id] = txt
        entries.append({"id": clip_id, "wav": lines[0] if wav in (None, named) else wav.name,  # .name: beside the .txt
                        "target_prompt": lines[1], "edit_type": edit_type, "_root": txt.parent})
    if unknown:
        raise UserError(f"manifest folder '{root}': {', '.join(repr(u) for u in sorted(unknown))} is not an edit "
                        f"type; the first folder below it must be one of {', '.join(EDIT_TYPES)}, holding the "
                        ".txt files (or sub-folders of them) of that type")
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise UserError(f"{len(missing)} .txt file(s) of '{root}' name a wav that does not exist "
                        f"({', '.join(missing[:3])}{more}); fix their first line or put <name>.wav beside each")
    return entries


def read_manifest(source) -> List[dict]:
    """Entries with absolute ``wav`` (and ``reference``) paths, in manifest order."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"manifest '{source}' does not exist; pass --manifest=<.json, .csv or folder of .txt>")
    if source.is_dir():
        entries = read_txt_folder(source)
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


def method_editor(method: str, entry: dict):
    """The editor of ``method`` for the clip ``entry``: its edit type's editor (``edit_types.editor_class``), or a
    baseline (or the identity / reference output) with the edit type's hooks."""
    editor = editor_class(entry["edit_type"])
    other = {**EDITORS, **FIXED_OUTPUTS}.get(method)
    if other is None:
        return editor
    editor = with_edit_type(other, editor)
    return with_reference(editor, entry["reference"]) if method == "reference" else editor


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


def written_outputs(folder: Path, values, sweep: str, sample_rate: int) -> torch.Tensor:
    """The outputs an edit wrote for each swept value, mono at ``sample_rate`` [n_values, T]."""
    wavs = []
    for value in values:
        data, rate = soundfile.read(str(folder / edit_wav_name(float(value), sweep)), dtype="float32",
                                    always_2d=True)
        wavs.append(resample(torch.from_numpy(data.mean(axis=1)), rate, sample_rate))
    return torch.stack(wavs)


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
           "inversion_source": result.metrics.get("inversion_source"),
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


def column_mean(rows: List[dict], column: str):
    values = [float(r[column]) for r in rows if r.get(column) not in (None, "", "None")]
    return sum(values) / len(values) if values else None


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple:
    """95 % Wilson score interval of a success rate (sensible at 9 clips, and at 0 or 9 successes).

    Example
    -------
    >>> [round(x, 3) for x in wilson_interval(9, 9)]
    [0.701, 1.0]
    """
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def success_cell(rows: List[dict]) -> str:
    """Mean judge success with its 95 % interval, e.g. ``0.78 [0.45, 0.94]``."""
    values = [float(r["judge_success"]) for r in rows if r.get("judge_success") not in (None, "", "None")]
    if not values:
        return "-"
    low, high = wilson_interval(sum(values), len(values))
    return f"{sum(values) / len(values):.2f} [{low:.2f}, {high:.2f}]"


def markdown_table(groups: Dict[tuple, List[dict]], columns: Dict[str, str]) -> List[str]:
    lines = ["| edit type | method | clips | " + " | ".join(columns.values()) + " |",
             "|" + "---|" * (len(columns) + 3)]
    for (edit_type, method), group in groups.items():
        cells = []
        for column in columns:
            mean = column_mean(group, column)
            cells.append(success_cell(group) if column == "judge_success" else "-" if mean is None else f"{mean:.3f}")
        lines.append(f"| {edit_type} | {method} | {len(group)} | " + " | ".join(cells) + " |")
    return lines


# the rules compared on the judge (the first is the paper's), each at its onset weight where it reads one
ONSET_RULES = ("text_onset", "text_onset_timed")
SELECTIONS_COMPARED = (("max_sum", 0.0), ("text_onset", ONSET_WEIGHT), ("text_onset_timed", ONSET_WEIGHT),
                       ("text_span", 0.0))


SWEEP_SCORES = ("text_clap", "audio_clap", "sum", "onset_f1")  # what the selection rules read (and the span's)


def sweep_scores(sweep: List[dict]) -> Dict[str, List[float]]:
    """What the selection rules read of a sweep's rows: ``SWEEP_SCORES``, and ``text_clap_span`` where the
    edit type has one (inpainting)."""
    span = ("text_clap_span",) if sweep[0].get("text_clap_span") not in (None, "") else ()
    return {c: [float(r[c]) for r in sweep] for c in SWEEP_SCORES + span}


def sweeps_by_clip(per_eta: List[dict]) -> Dict[tuple, List[dict]]:
    """{(id, method): its swept rows} for the methods that sweep, with the judge's columns."""
    sweeps: Dict[tuple, List[dict]] = {}
    for row in per_eta:
        if row["method"] not in FIXED_OUTPUTS and row.get("judge_success") not in (None, ""):
            sweeps.setdefault((row["id"], row["method"]), []).append(row)
    return sweeps


def selection_table(rows: List[dict], per_eta: List[dict]) -> List[str]:
    """Judge success at the value each selection rule chooses, per edit type and method, and at the best
    value of the sweep (what a perfect rule would reach)."""
    sweeps = sweeps_by_clip(per_eta)
    chosen_rows = {(r["id"], r["method"]) for r in rows}
    if not sweeps:
        return []
    names = [f"{rule} {weight:g}" if rule in ONSET_RULES else rule for rule, weight in SELECTIONS_COMPARED]
    lines = ["## Selection rules, judged", "",
             "Judge success at the eta / strength each rule chooses from the scorer's numbers (`max_sum`: the "
             "paper's, highest Text + Audio; `text_onset w`: the highest Text + "
             "w x onset F1 to the input; `text_onset_timed w`: the same among the values sharing an onset with the "
             "input (onset F1 > 0), all when none does; `text_span`: the highest Text + Text of the filled span alone, inpainting "
             "only), and at the best value of each clip's sweep (no rule can do better).", "",
             "| edit type | method | clips | " + " | ".join(names) + " | best of sweep |",
             "|" + "---|" * (len(names) + 4)]
    groups: Dict[tuple, List[tuple]] = {}
    for (clip, method), sweep in sweeps.items():
        if (clip, method) in chosen_rows:
            groups.setdefault((sweep[0]["edit_type"], method), []).append((clip, method))
    for (edit_type, method), keys in sorted(groups.items(), key=lambda item: (
            EDIT_TYPES.index(item[0][0]), list(METHODS).index(item[0][1]) if item[0][1] in METHODS else 99)):
        cells = []
        for rule, weight in SELECTIONS_COMPARED:
            chosen = []
            for key in keys:
                scores = sweep_scores(sweeps[key])
                if rule == "text_span" and "text_clap_span" not in scores:
                    break  # inpainting's rule
                index = select_index(scores, rule, weight)
                chosen.append({"judge_success": sweeps[key][index]["judge_success"]})
            cells.append(success_cell(chosen) if chosen else "-")
        best = [{"judge_success": max(float(r["judge_success"]) for r in sweeps[key])} for key in keys]
        lines.append(f"| {edit_type} | {method} | {len(keys)} | " + " | ".join(cells) + f" | {success_cell(best)} |")
    return lines + [""]


def added_sound_table(per_eta: List[dict]) -> List[str]:
    """Addition: mean Text score of the added sound alone at each eta / strength, per method (the whole
    scene's Text score hides whether the added sound is there)."""
    rows = [r for r in per_eta if r.get("edit_type") == "addition" and r.get("added_text_clap") not in (None, "")]
    if not rows:
        return []
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["## Addition: the added sound's Text score against eta / strength", "",
             "Mean Text score of each edit against the added sound's own prompt (`added_prompt`), "
             "at every swept value.", "", "| method | sweep | values |", "|---|---|---|"]
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        values = sorted({float(r["eta"]) for r in mine})
        cells = [f"{v:g}: {column_mean([r for r in mine if float(r['eta']) == v], 'added_text_clap'):.3f}"
                 for v in values]
        lines.append(f"| {method} | {mine[0].get('sweep') or 'eta'} | " + ", ".join(cells) + " |")
    return lines + [""]


def summary_table(rows: List[dict], figures: Dict[str, str] = None, per_eta: List[dict] = None) -> str:
    """results.md: Table 1 (means per edit type and method), further metrics, and the Fig. 4 plots."""
    groups: Dict[tuple, List[dict]] = {}
    for row in rows:
        groups.setdefault((row["edit_type"], row["method"]), []).append(row)
    method_order = list(METHODS)
    groups = dict(sorted(groups.items(), key=lambda item: (
        EDIT_TYPES.index(item[0][0]), method_order.index(item[0][1]) if item[0][1] in METHODS else len(METHODS))))
    table1 = {"judge_success": "judge success [95% CI]", "judge_preservation": "preservation",
              "judge_target": "target", "judge_event_f1": "event F1 vs reference", "sum": "Sum", "text_clap": "Text",
              "audio_clap": "Audio", "onset_f1": "onset F1", "ref_mel_snr": "ref SNR (dB)"}
    more = {"text_clap_input": "Text of input", "eta0_mel_snr": "eta=0 SNR to input (dB)",
            "vae_mel_snr": "VAE SNR (dB)", "added_text_clap": "Text of added sound",
            "text_clap_span": "Text of span", "ref_mel_snr_span": "span ref SNR (dB)",
            "eta0_free_mel_snr_observed": "eta=0 SNR, observed, free (dB)",
            "eta0_span_held_mel_snr_observed": "eta=0 SNR, observed, span held (dB)",
            "vae_mel_snr_observed": "VAE SNR, observed (dB)",
            "best_eta": "chosen eta / strength", "seconds": "s / edit"}
    lines = ["# Results", "",
             "Means over clips at each clip's chosen eta (baselines: strength; chosen by the recipes' "
             "`eta_selection` from the scorer's numbers). Judge: the toy world's sound-event detector against the "
             "manifest's ground truth (success 0/1 per clip with its 95 % Wilson interval: with 9 clips per edit "
             "type it is wide; target: the edit's own condition, e.g. the added class detected; preservation: share "
             "of the events that should stay still detected where they were; event F1 against the reference "
             "scene, 200 ms onset collar). identity: the input unchanged; reference: the reference edit. "
             "Text: edit vs target prompt; Audio: edit vs input; onset F1: the edit's onsets "
             "vs the input's (50 ms); ref SNR: log-mel SNR of the edit to the reference edit. Inpainting "
             "keeps the observed audio by construction, so its eta=0 SNR to the input measures the filled span "
             "against the blank; eta=0 SNR, observed, free: an eta=0 sample drawn without holding the observed "
             "frames, over the frames outside the span (steps 1-2 alone).", "",
             "## Table 1", "", *markdown_table(groups, table1), "", "## More metrics", "",
             *markdown_table(groups, more), ""]
    lines += selection_table(rows, per_eta or [])
    lines += added_sound_table(per_eta or [])
    if figures:
        lines += ["## Judge success vs preservation, Text vs Audio, over the sweeps", ""]
        lines += [f"![{key}]({name})" for key, name in figures.items() if key.startswith("tradeoff")] + [""]
        lines += ["## Text and Audio scores vs eta / strength (Fig. 4)", ""]
        lines += [f"![{key}]({name})" for key, name in figures.items() if not key.startswith("tradeoff")] + [""]
    return "\n".join(lines)


def plot_scores_per_edit_type(output_folder: Path, per_eta: List[dict]) -> Dict[str, str]:
    """One Fig. 4 per edit type: mean Text and Audio scores vs eta / strength per method."""
    figures = {}
    for edit_type in EDIT_TYPES:
        curves = {}
        for method in dict.fromkeys(r["method"] for r in per_eta if r["edit_type"] == edit_type):
            rows = [r for r in per_eta if r["edit_type"] == edit_type and r["method"] == method]
            values = sorted({float(r["eta"]) for r in rows})
            at = {v: [r for r in rows if float(r["eta"]) == v] for v in values}
            curves[method] = (rows[0].get("sweep") or "eta", values,
                              [column_mean(at[v], "text_clap") for v in values],
                              [column_mean(at[v], "audio_clap") for v in values])
        if curves:
            name = f"clap_vs_eta_{edit_type}.png"
            plot_mean_scores_vs_sweep(output_folder / name, curves, title=edit_type.replace("_", " "))
            figures[edit_type] = name
    figures.update(plot_tradeoffs(output_folder, per_eta))
    return figures


def plot_tradeoffs(output_folder: Path, per_eta: List[dict]) -> Dict[str, str]:
    """Per edit type: mean judge success against mean preservation (and Text against Audio) at each swept
    value, every method on one plot."""
    figures = {}
    for edit_type in EDIT_TYPES:
        rows = [r for r in per_eta if r["edit_type"] == edit_type and r.get("judge_success") not in (None, "")]
        curves = {}
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == method]
            at = [[r for r in mine if float(r["eta"]) == v] for v in sorted({float(r["eta"]) for r in mine})]
            curves[method] = tuple([column_mean(group, column) for group in at] for column in (
                "judge_preservation", "judge_success", "audio_clap", "text_clap"))
        if curves:
            name = f"tradeoff_{edit_type}.png"
            plot_tradeoff(output_folder / name, curves, title=edit_type.replace("_", " "))
            figures[f"tradeoff_{edit_type}"] = name
    return figures


def eta_rows(entry, method, result) -> List[dict]:
    return [{"id": entry["id"], "edit_type": entry["edit_type"], "method": method, "sweep": result.sweep, "eta": eta,
             **{k: v[i] for k, v in result.scores.items()}} for i, eta in enumerate(result.etas)]


def rank_files(output_folder: Path, rank: int) -> List[Path]:
    """Where a rank of a torchrun launch keeps its (results, eta scores) rows until rank 0 merges them."""
    return [output_folder / "ranks" / f"results_rank{rank}.csv", output_folder / "ranks" / f"eta_scores_rank{rank}.csv"]


def unique_rows(paths: List[Path], key) -> List[dict]:
    rows, seen = [], set()
    for path in paths:
        for row in read_results(path):
            if key(row) not in seen:
                seen.add(key(row))
                rows.append(row)
    return rows


def collect_results(output_folder: Path, keys: List[tuple]):
    """results.csv plus the rows every rank kept, each (clip, method) once, in manifest order."""
    ranks = output_folder / "ranks"
    rows = unique_rows([output_folder / "results.csv", *sorted(ranks.glob("results_rank*.csv"))],
                       lambda row: (row["id"], row["method"]))
    per_eta = unique_rows([output_folder / "eta_scores.csv", *sorted(ranks.glob("eta_scores_rank*.csv"))],
                          lambda row: (row["id"], row["method"], row["eta"]))
    order = {key: i for i, key in enumerate(keys)}

    def place(row):  # rows of clips or methods not asked for this time go last, as they were
        return order.get((row["id"], row["method"]), len(order))

    return sorted(rows, key=place), sorted(per_eta, key=place)


class ClipEvaluator:
    """Edits one (clip, method) through the recipe of its edit type and computes its result row."""

    def __init__(self, output_folder: Path, edit_args: List[str], repo: Path, judge=None):
        self.output_folder, self.edit_args, self.repo, self.judge = output_folder, edit_args, repo, judge
        self.scorer = self.logmel = None

    def __call__(self, entry: dict, method: str):
        from audio_editing.cli import load_hparams
        from audio_editing.editing import recipe

        flags = [*METHODS[method], *self.edit_args]
        if entry.get("source_prompt"):  # read by --init=source only
            flags += [f"--source_prompt={entry['source_prompt']}"]
        if entry.get("mask_start") not in (None, ""):
            flags += [f"--mask_start={entry['mask_start']}", f"--mask_end={entry['mask_end']}"]
        argv = [str(self.repo / "hparams" / f"{entry['edit_type']}.yaml"), f"--input_wav={entry['wav']}",
                f"--target_prompt={entry['target_prompt']}", f"--edit_id={entry['id']}",
                f"--output_folder={self.output_folder / method / entry['edit_type']}",
                *flags_read_by(row_method(method), flags)]  # settings shared by the rows: each takes its own
        start = time.time()
        result = recipe.run_edit(method_editor(method, entry), argv)
        seconds = time.time() - start
        if self.scorer is None:  # the recipes' scorer and front end, with the same overrides
            _, _, overrides = parse_arguments([argv[0], *self.edit_args])
            overrides.update(input_wav=entry["wav"], target_prompt="-", edit_id="-")
            hparams, _ = load_hparams(argv[0], overrides)
            self.scorer, self.logmel = hparams["scorer"], hparams["ldm"].logmel
        with torch.no_grad():
            row = clip_metrics(entry, result, self.scorer, self.logmel, self.judge)
        row = {"id": entry["id"], "edit_type": entry["edit_type"], "method": method, "seconds": round(seconds, 1),
               **row}
        return row, eta_rows(entry, method, result)


def select_edit_types(entries: List[dict], edit_types) -> List[dict]:
    """The entries of the edit types asked for (None: all), in manifest order.

    Example
    -------
    >>> entries = [{"id": "a", "edit_type": "addition"}, {"id": "b", "edit_type": "inpainting"}]
    >>> [e["id"] for e in select_edit_types(entries, ["inpainting"])]
    ['b']
    """
    if edit_types is None:
        return entries
    edit_types = list_arg(edit_types)
    unknown = [t for t in edit_types if t not in EDIT_TYPES]
    if unknown or not edit_types:
        raise UserError(f"--edit_types={list(edit_types)}: choose one or more of {', '.join(EDIT_TYPES)} "
                        "(or leave it out for all)")
    chosen = [e for e in entries if e["edit_type"] in edit_types]
    if not chosen:
        raise UserError(f"the manifest has no clip of edit type {', '.join(edit_types)}")
    return chosen


def check_entries(entries: List[dict]) -> None:
    """Read every clip (and reference) and check every prompt before anything is edited."""
    from audio_editing.editing.checks import check_prompt

    for entry in entries:
        try:
            check_prompt(entry["target_prompt"])
            clip = read_audio(entry["wav"])
            check_audible(clip, clip.samples.mean(dim=0), entry["wav"])
            if entry.get("reference"):
                read_audio(entry["reference"])
        except UserError as err:
            raise UserError(f"manifest entry {entry['id']}: {err}") from None


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


def write_results(output_folder: Path, rows: List[dict], per_eta: List[dict]) -> None:
    """results.csv, eta_scores.csv, the figures and results.md of a results folder."""
    write_csv(output_folder / "eta_scores.csv", per_eta, list(dict.fromkeys(k for r in per_eta for k in r)))
    write_csv(output_folder / "results.csv", rows, RESULT_COLUMNS)
    figures = plot_scores_per_edit_type(output_folder, per_eta)
    atomic_write(output_folder / "results.md", lambda tmp: Path(tmp).write_text(summary_table(rows, figures, per_eta)))


# what a results row holds of its chosen value, when that value is chosen again from eta_scores
CHOSEN_COLUMNS = ("text_clap", "audio_clap", "sum", "onset_f1", "text_clap_span", "added_text_clap", "ref_mel_snr",
                  "ref_mel_snr_span", *JUDGE_COLUMNS)


def reselect(rows: List[dict], sweeps: Dict[tuple, List[dict]], rule: str,
             onset_weight: float = ONSET_WEIGHT) -> None:
    """Choose every row's value again with ``rule`` (``select_index``) from its sweep's scores, in place."""
    for row in rows:
        sweep = sweeps.get((row["id"], row["method"]), [])
        if not sweep:
            continue
        chosen = sweep[select_index(sweep_scores(sweep), rule, onset_weight)]
        row["best_eta"] = chosen["eta"]
        row.update({k: chosen[k] for k in CHOSEN_COLUMNS if chosen.get(k) not in (None, "")})


def rejudge(entries: List[dict], output_folder: Path, judge, selection: tuple = None) -> List[dict]:
    """Recompute the judge's columns of every finished row of ``output_folder`` from the outputs it wrote
    (after the judge changed), editing nothing; with ``selection`` = (rule[, onset weight]), choose every row's
    value again with that rule (the written best.wav files stay as their edits chose). Rewrites the tables
    and figures; returns the rows."""
    if judge is None:
        raise UserError("--rejudge needs a judge: set --judge_source to a model folder with a judge/ inside")
    rows, per_eta = collect_results(output_folder, [])
    if not rows:
        raise UserError(f"'{output_folder}' holds no results to judge; run the evaluation first")
    by_clip = {e["id"]: e for e in entries}
    sweeps: Dict[tuple, List[dict]] = {}
    for row in per_eta:
        sweeps.setdefault((row["id"], row["method"]), []).append(row)
    for row in rows:
        entry, sweep = by_clip.get(row["id"]), sweeps.get((row["id"], row["method"]), [])
        if entry is None or not sweep:
            continue
        folder = output_folder / row["method"] / row["edit_type"] / row["id"]
        outputs = written_outputs(folder, [r["eta"] for r in sweep], sweep[0]["sweep"], judge.sample_rate)
        verdicts = judge.judge_outputs(entry, outputs, judge.sample_rate)
        if verdicts is None:
            continue
        if entry.get("reference"):  # rows written before the reference SNRs were kept per value
            reference = load_audio(entry["reference"], judge.sample_rate)[None, : outputs.shape[-1]]
            spans = {"ref_mel_snr": (0, outputs.shape[-1])}
            if entry.get("mask_start") not in (None, ""):
                spans["ref_mel_snr_span"] = tuple(round(float(entry[k]) * judge.sample_rate)
                                                  for k in ("mask_start", "mask_end"))
            for column, (start, end) in spans.items():
                if sweep[0].get(column) not in (None, ""):
                    continue
                snrs = mel_snr(judge.logmel(outputs[:, start:end]), judge.logmel(reference[:, start:end]))
                for eta_row, snr in zip(sweep, snrs.tolist()):
                    eta_row[column] = snr
        for eta_row, verdict in zip(sweep, verdicts):
            eta_row.update(verdict)
            if float(eta_row["eta"]) == float(row["best_eta"]):
                row.update(verdict)
    if selection is not None:
        reselect(rows, sweeps, *selection)
    write_results(output_folder, rows, per_eta)
    return rows
