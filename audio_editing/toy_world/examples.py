"""The training stream: random toy-world clips with their captions (a few written out for listening)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile

from audio_editing.toy_world.captions import _check_split, caption
from audio_editing.toy_world.scenes import CLIP_SECONDS, Scene, render_scene, sample_scene
from audio_editing.toy_world.sounds import SAMPLE_RATE


def generate_examples(n: int, seed: int, seconds: float = CLIP_SECONDS,
                      split: str = "train") -> Iterator[tuple[np.ndarray, str, Scene]]:
    """Yield ``n`` random ``(waveform, caption, scene)`` training examples.

    Deterministic from ``seed``. Scenes hold 1-3 events and a background bed
    with probability 0.3.

    Example
    -------
    >>> wav, text, scene = next(generate_examples(1, seed=0))
    >>> wav.shape, isinstance(text, str)
    ((40960,), True)
    """
    _check_split(split)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        scene = sample_scene(rng, seconds=seconds, background="random")
        yield render_scene(scene), caption(scene, rng, split), scene


def write_examples(out_dir: str | Path, n: int, seed: int = 0, split: str = "train") -> Path:
    """Write ``n`` example clips for listening, plus ``captions.txt``.

    Writes ``example_000.wav`` ... (16-bit, 16 kHz) and a tab-separated
    ``captions.txt`` of file name and caption; returns the captions path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, (wav, text, _) in enumerate(generate_examples(n, seed, split=split)):
        name = f"example_{index:03d}.wav"
        soundfile.write(out / name, wav, SAMPLE_RATE, subtype="PCM_16")
        lines.append(f"{name}\t{text}\n")
    captions_path = out / "captions.txt"
    captions_path.write_text("".join(lines))
    return captions_path
