"""The toy world's parts in a model folder, for ``audio_editing.registry``.

Each function takes a folder (``embedded:toy_world`` resolved, or a folder given as a source) and
returns None when the folder holds no such part.
"""

from pathlib import Path
from typing import Optional

from audio_editing.toy_world.evaluator import ToyClap
from audio_editing.toy_world.judge import SoundEventDetector


def find_scorer(folder: Path) -> Optional[ToyClap]:
    """The evaluator in ``folder/evaluator`` (a model folder) or in ``folder`` itself."""
    for candidate in (folder / "evaluator", folder):
        if (candidate / ToyClap.CONFIG_NAME).is_file():
            return ToyClap.from_pretrained(candidate)
    return None


def find_judge(folder: Path) -> Optional[SoundEventDetector]:
    """The judge in ``folder/judge`` (a model folder) or in ``folder`` itself."""
    for candidate in (folder / "judge", folder):
        if (candidate / SoundEventDetector.CONFIG_NAME).is_file():
            return SoundEventDetector.from_pretrained(candidate)
    return None
