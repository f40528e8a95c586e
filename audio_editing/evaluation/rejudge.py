"""Judging a finished results folder again (the judge changed) and choosing every row's value again with another
selection rule, from the outputs and scores it wrote, editing nothing."""

from pathlib import Path
from typing import Dict, List

from audio_editing.data.audio import load_audio
from audio_editing.editing.selection import ONSET_WEIGHT, select_index
from audio_editing.errors import UserError
from audio_editing.evaluation.metrics import mel_snr
from audio_editing.evaluation.rows import JUDGE_COLUMNS, collect_results, written_outputs
from audio_editing.evaluation.tables import sweep_scores, write_results


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
