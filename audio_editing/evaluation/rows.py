"""The rows of a batch evaluation: which methods make rows, the columns of ``results.csv``, and reading, writing
and merging the rows (one file per rank under ``torchrun``, merged by rank 0)."""

import csv
import io
from pathlib import Path
from typing import List

import soundfile
import torch

from audio_editing.data.audio import atomic_write, resample
from audio_editing.editing.outputs import edit_wav_name


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
# best_eta: the chosen eta, or the chosen strength for a baseline; inversion_strength: the
# method's sweep kept, where step 3 swept several inversion strengths
RESULT_COLUMNS = ["id", "edit_type", "method", "best_eta", "inversion_strength", *JUDGE_COLUMNS,
                  "text_clap", "audio_clap", "sum", "onset_f1",
                  "text_clap_input", "eta0_mel_snr", "vae_mel_snr", "ref_mel_snr", "added_text_clap",
                  "text_clap_span", "ref_mel_snr_span", "eta0_free_mel_snr_observed",
                  "eta0_span_held_mel_snr_observed", "vae_mel_snr_observed", "seconds"]


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
