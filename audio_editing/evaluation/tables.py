"""What a results folder shows: ``results.md`` (Table 1 with the judge's success and its Wilson interval, the
selection rules compared on the judge, the added sound's Text score), its figures, and the CSV files it is made
from (``write_results``)."""

import math
from pathlib import Path
from typing import Dict, List

from audio_editing.data.audio import atomic_write
from audio_editing.editing.baselines import FIXED_OUTPUTS
from audio_editing.editing.edit_types import EDIT_TYPES
from audio_editing.editing.selection import ONSET_WEIGHT, select_index
from audio_editing.evaluation.rows import METHODS, RESULT_COLUMNS, write_csv
from audio_editing.plots import plot_mean_scores_vs_sweep, plot_tradeoff


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
SELECTIONS_COMPARED = (("max_sum", 0.0), ("max_text", 0.0), ("text_onset", ONSET_WEIGHT),
                       ("text_onset_timed", ONSET_WEIGHT), ("text_span", 0.0))


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
             "paper's, highest Text + Audio; `max_text`: the highest Text; `text_onset w`: the highest Text + "
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


def write_results(output_folder: Path, rows: List[dict], per_eta: List[dict]) -> None:
    """results.csv, eta_scores.csv, the figures and results.md of a results folder."""
    write_csv(output_folder / "eta_scores.csv", per_eta, list(dict.fromkeys(k for r in per_eta for k in r)))
    write_csv(output_folder / "results.csv", rows, RESULT_COLUMNS)
    figures = plot_scores_per_edit_type(output_folder, per_eta)
    atomic_write(output_folder / "results.md", lambda tmp: Path(tmp).write_text(summary_table(rows, figures, per_eta)))
