"""Writing one edit's outputs: wavs per eta (or strength), best.wav, scores.csv and the figures."""

import csv
import io
import logging
from pathlib import Path

import torch

from audio_editing.data.audio import atomic_write, mixdown, write_audio
from audio_editing.plots import plot_scores_vs_eta, plot_spectrograms

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("eta", "text_clap", "audio_clap", "sum")
SAMPLING_OUTPUTS = ("edit_*.wav", "best.wav", "scores.csv", "spectrograms.png", "clap_vs_eta.png")  # step 3's


def edit_wav_name(value: float, sweep: str = "eta") -> str:
    """``edit_eta0.40.wav``; the baselines' outputs are ``edit_strength0.40.wav``."""
    return f"edit_{sweep}{value:.2f}.wav"


def remove_outputs(folder) -> None:
    """Remove an earlier run's step-3 outputs from ``folder`` (the input file cannot lie in an edit folder)."""
    for pattern in SAMPLING_OUTPUTS:
        for path in Path(folder).glob(pattern):
            path.unlink()


def write_edit_outputs(folder, result, input_wav: torch.Tensor, logmel, target_prompt: str, clip) -> Path:
    """Write input.wav, edit_eta<eta>.wav, best.wav, scores.csv, spectrograms.png, clap_vs_eta.png.

    For a baseline, ``eta`` reads ``strength`` in the file names and the first column of scores.csv.
    ``input.wav`` is the model's input (mono, or a stereo model's two channels; model rate, the input's level);
    the edits are ``result.outputs``, at the rate, channel count and length of ``clip`` (the input file).
    Returns the path of best.wav.
    """
    folder = Path(folder)
    rate = result.sample_rate
    subtype = clip.output_subtype
    write_audio(folder / "input.wav", input_wav, rate, subtype)
    names = [edit_wav_name(eta, result.sweep) for eta in result.etas]
    for name, wav in zip(names, result.outputs):
        write_audio(folder / name, wav, clip.sample_rate, subtype)
    stale = sorted(path.name for path in folder.glob("edit_*.wav") if path.name not in names)
    if stale:  # an earlier run's, at values this run did not sample
        logger.info(f"removed {', '.join(stale)} of an earlier run (not among this run's {result.sweep} values)")
        for name in stale:
            (folder / name).unlink()
    best = result.best_index
    write_audio(folder / "best.wav", result.outputs[best], clip.sample_rate, subtype)

    extra = [c for c in result.scores if c not in SCORE_COLUMNS]
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow([result.sweep, *SCORE_COLUMNS[1:], *extra, "best"])
    for i, eta in enumerate(result.etas):
        row = [f"{eta:g}"] + [f"{result.scores[c][i]:.4f}" for c in SCORE_COLUMNS[1:] + tuple(extra)]
        writer.writerow(row + [int(i == best)])
    atomic_write(folder / "scores.csv", lambda tmp: Path(tmp).write_text(table.getvalue()))

    with torch.no_grad():
        mels = [logmel(mixdown(input_wav, 1)[None].cpu())[0]] + list(logmel(mixdown(result.wavs, 2)))
    titles = ["input"] + [f"{result.sweep}={eta:g}  text={result.scores['text_clap'][i]:.3f}  "
                          f"audio={result.scores['audio_clap'][i]:.3f}" + ("  (best)" if i == best else "")
                          for i, eta in enumerate(result.etas)]
    plot_spectrograms(folder / "spectrograms.png", mels, titles, logmel.hop_length / rate)
    plot_scores_vs_eta(folder / "clap_vs_eta.png", result.etas, result.scores, result.etas[best],
                       title=f'"{target_prompt}"', sweep=result.sweep)
    return folder / "best.wav"
