"""Which editor runs a method: ``imagic`` (the recipe's own editor), a baseline or ``layer``, each with the
recipe's edit-type hooks. The recipes read it from the hparam ``method``; ``recipes/evaluate`` names it per row.
"""

from audio_editing.editing.baselines import BASELINES, BaselineEditor, FixedOutputEditor, with_edit_type
from audio_editing.editing.layering import LayerEditor
from audio_editing.errors import UserError

# the methods other than imagic, each a training-free editor
EDITORS = {**BASELINES, "layer": LayerEditor}
METHOD_NAMES = ("imagic", *EDITORS)


def with_method(editor: type, method: str) -> type:
    """The editor of ``method`` built on the recipe editor ``editor``; ``editor`` itself for ``imagic``, or
    where it already is a baseline or a fixed output (``recipes/evaluate`` passes those in).

    Example
    -------
    >>> from audio_editing.editing.imagic import ImagicEditor
    >>> with_method(ImagicEditor, "sdedit").method
    'sdedit'
    """
    if method not in METHOD_NAMES:
        raise UserError(f"unknown --method={method!r}; choose one of {', '.join(METHOD_NAMES)}")
    if method == "imagic" or issubclass(editor, (BaselineEditor, FixedOutputEditor)):
        return editor
    allowed = getattr(EDITORS[method], "edit_types", None)
    if allowed is not None and editor.edit_type not in (None, *allowed):
        raise UserError(f"--method={method} is for {' and '.join(allowed)}, not {editor.edit_type}; pass "
                        f"--method=imagic or one of {', '.join(BASELINES)}")
    return with_edit_type(EDITORS[method], editor)
