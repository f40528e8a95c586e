"""Model families shipped inside the package, found from a source string.

A source ``embedded:<name>`` is the folder ``audio_editing/pretrained/<name>``; any other source is
a path (or a hub id, which no family here claims). ``EMBEDDED`` maps each embedded name to the
module of the package that provides its family, imported by its dotted path only when a source
is looked up, so the generic packages (``editing``, ``evaluation``, ``backbones``) name no family.
That module provides ``find_scorer(folder)`` and ``find_judge(folder)``, each None when the folder
holds no such part. A family's backbone is named by its own hparams file
(``hparams/backbones/<name>.yaml``) and resolves its source here.

Example
-------
>>> resolve_source("embedded:toy_world") == PRETRAINED_DIR / "toy_world"
True
>>> load_judge(None) is None
True
"""

import importlib
from pathlib import Path
from typing import List, Optional

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
EMBEDDED = {"toy_world": "audio_editing.toy_world.loaders"}


def resolve_source(source: str) -> Path:
    """``embedded:<name>`` -> the folder shipped in the package; anything else is a path."""
    if source.startswith("embedded:"):
        return PRETRAINED_DIR / source[len("embedded:"):]
    return Path(source)


def providers(source: str) -> List:
    """The modules to ask about ``source``: the one registered for ``embedded:<name>``, else every one
    (a folder, or a model copied into ``pretrained/`` under another name, may be any family's)."""
    name = source[len("embedded:"):] if source.startswith("embedded:") else None
    paths = [EMBEDDED[name]] if name in EMBEDDED else list(dict.fromkeys(EMBEDDED.values()))
    return [importlib.import_module(path) for path in paths]


def load_scorer(source: str):
    """The audio-text scorer shipped with the model at ``source``; None when no family has one there."""
    return _find(source, "find_scorer")


def load_judge(source: Optional[str]):
    """The ground-truth judge shipped with the model at ``source`` (or the judge's own folder).

    None for ``source`` None or a folder without a judge (a real model's clips have no ground truth).
    """
    return _find(source, "find_judge") if source else None


def _find(source: str, hook: str):
    """The first part that a provider's ``hook(folder)`` finds at ``source``, or None."""
    folder = resolve_source(source)
    for provider in providers(source):
        found = getattr(provider, hook)(folder)
        if found is not None:
            return found
    return None
