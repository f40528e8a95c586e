"""The edit types: one registry that the evaluator, the demo, the benchmark generator, the judge and the tests read.

Each edit type is an editor class in ``editing/editors.py``, a recipe folder ``recipes/<name>/`` (its
``edit.py`` runs that class) and ``hparams/<name>.yaml``; this file names, per type, that class, what its
target prompt describes, the judge's success rule in words (the rule itself is the toy-world judge's
``RULES[name]``: this package names no model family) and the demo's label and methods. Adding an edit type is
CONTRIBUTING.md's list: its editor class, its recipe folder, its hparams file and one entry here; the toy world
then needs its benchmark items and its judge rule, which tests ask for.

Example
-------
>>> EDIT_TYPES
('addition', 'style_transfer', 'inpainting', 'removal')
>>> REGISTRY["removal"].hparams, REGISTRY["removal"].editor
('hparams/removal.yaml', 'RemovalEditor')
"""

from dataclasses import dataclass
from typing import Tuple

from audio_editing.errors import UserError


@dataclass(frozen=True)
class EditType:
    """One edit type: its recipe's editor class, what its prompt says, how it is judged, how the demo offers it."""

    name: str
    editor: str  # its class in ``editing/editors.py`` (``recipes/<name>/edit.py`` runs it)
    prompt: str  # what the target prompt describes
    success: str  # the judge's rule, in words
    label: str  # the demo's choice
    demo_methods: Tuple[str, ...] = ("imagic",)  # the methods the demo offers, the first its default

    @property
    def recipe(self) -> str:
        return f"recipes/{self.name}/edit.py"

    @property
    def hparams(self) -> str:
        return f"hparams/{self.name}.yaml"


REGISTRY = {edit_type.name: edit_type for edit_type in (
    EditType("addition", "AdditionEditor", "the whole new scene",
             "the added class is detected and every input event is still heard where it was",
             "addition (prompt: the whole new scene)", ("imagic", "layer")),
    EditType("style_transfer", "StyleTransferEditor", "the new sound",
             "the target class sounds at every source onset and the source class is gone",
             "style transfer (prompt: the new sound)"),
    EditType("inpainting", "InpaintingEditor", "the sound for the blank span",
             "the prompt's class fills at least half of the filled event's frames inside the span",
             "inpainting (prompt: the sound for the blank span)"),
    EditType("removal", "RemovalEditor", "the whole new scene, without the removed sound",
             "the removed class is not heard where it was and every other event is still heard where it was",
             "removal (prompt: the scene without the removed sound)"),
)}
EDIT_TYPES = tuple(REGISTRY)


def check_edit_type(name: str) -> EditType:
    """The registry's entry for ``name``; a ``UserError`` naming the choices for any other."""
    if name not in REGISTRY:
        raise UserError(f"unknown edit type '{name}'; choose one of {', '.join(EDIT_TYPES)}")
    return REGISTRY[name]


def editor_class(name: str) -> type:
    """The editor class of the edit type ``name`` (``editing/editors.py``); recipe scripts are never imported."""
    from audio_editing.editing import editors  # here: the toy world's benchmark reads this registry without torch

    return getattr(editors, check_edit_type(name).editor)
