"""Figures: the input and each eta's edit as log-mel spectrograms (paper Fig. 2), scores vs eta (Fig. 4),
judge success against preservation (the trade-off figures)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from audio_editing.data.audio import atomic_write  # noqa: E402


def save_figure(fig, path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def plot_spectrograms(path, log_mels, titles, hop_seconds: float) -> None:
    """One row per log-mel [frames, mels], time on x."""
    fig, axes = plt.subplots(len(log_mels), 1, figsize=(8, 1.6 * len(log_mels)), sharex=True, squeeze=False)
    low = min(float(m.min()) for m in log_mels)
    high = max(float(m.max()) for m in log_mels)
    for ax, mel, title in zip(axes[:, 0], log_mels, titles):
        frames = mel.shape[0]
        ax.imshow(mel.T.numpy(), origin="lower", aspect="auto", vmin=low, vmax=high, cmap="magma",
                  extent=(0, frames * hop_seconds, 0, mel.shape[1]))
        ax.set_ylabel("mel bin")
        ax.set_title(title, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    save_figure(fig, path)


def plot_scores_vs_eta(path, etas, scores: dict, best_eta: float, title: str = "", sweep: str = "eta") -> None:
    """Text-CLAP, Audio-CLAP and their sum against eta (a baseline: strength), the chosen value marked."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for column, style in (("text_clap", "o-"), ("audio_clap", "s-"), ("sum", "^-")):
        ax.plot(etas, scores[column], style, label=column.replace("_", "-"))
    ax.axvline(best_eta, color="gray", linestyle="--", label=f"chosen {sweep}={best_eta:g}")
    ax.set_xlabel(sweep)
    ax.set_ylabel("score (cosine)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_mean_scores_vs_sweep(path, curves: dict, title: str = "") -> None:
    """Mean Text-CLAP and Audio-CLAP against the swept value, one line per method (paper Fig. 4).

    ``curves``: method -> (sweep name, values, mean text scores, mean audio scores).
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
    for method, (sweep, values, text, audio) in curves.items():
        label = f"{method} ({sweep})"
        axes[0].plot(values, text, "o-", label=label)
        axes[1].plot(values, audio, "s-", label=label)
    sweeps = " / ".join(dict.fromkeys(sweep for sweep, *_ in curves.values()))
    for ax, name in zip(axes, ("Text-CLAP (edit vs target prompt)", "Audio-CLAP (edit vs input)")):
        ax.set_xlabel(sweeps)
        ax.set_ylabel("mean score (cosine)")
        ax.set_title(name, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_tradeoff(path, curves: dict, title: str = "") -> None:
    """Who dominates at matched preservation: judge success against preservation (left) and Text
    against Audio (right), one point per swept value, one line per method (a single point for a
    row that is not swept, such as the identity and the reference).

    ``curves``: method -> (preservation, success, audio, text), each a list over the sweep.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for method, (preservation, success, audio, text) in curves.items():
        style = "o-" if len(success) > 1 else "*"
        axes[0].plot(preservation, success, style, label=method, markersize=6 if len(success) > 1 else 12)
        axes[1].plot(audio, text, style, label=method, markersize=6 if len(success) > 1 else 12)
    for ax, (x, y) in zip(axes, (("judge preservation (kept events still there)", "judge success rate"),
                                 ("Audio score (edit vs input)", "Text score (edit vs target prompt)"))):
        ax.set_xlabel(x, fontsize=9)
        ax.set_ylabel(y, fontsize=9)
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)
