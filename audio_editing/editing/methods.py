"""Which editor runs a method: ``imagic`` (the recipe's own editor), a baseline or ``layer``, each with the
recipe's edit-type hooks. The recipes read it from the hparam ``method``; ``recipes/evaluate`` names it per row.
"""

from audio_editing.editing.baselines import BASELINES, BaselineEditor, FixedOutputEditor, with_edit_type
from audio_editing.editing.layering import LayerEditor
from audio_editing.errors import UserError

# the methods other than imagic, each a training-free editor
EDITORS = {**BASELINES, "layer": LayerEditor}
METHOD_NAMES = ("imagic", *EDITORS)
# The settings only some methods read: steps 1-2, the eta sweep and the added sound's guidance are the method's,
# the strength sweep the baselines', the gains the layer's, the sound to add (``added_prompt``) the layer's and the
# method's. Every other setting (the backbone, sampling steps, guidance, the selection rule, the edit type's, input
# handling) is read by every method.
METHOD_ONLY_KEYS = {
    "imagic": ("emb_steps", "emb_lr", "ft_steps", "ft_mode", "ft_lr", "lora_rank", "lora_targets", "lora_lr",
               "loss_batch", "t_min", "t_max", "init", "source_prompt", "etas", "sample_start", "inversion_strength",
               "inversion_source", "attention_injection", "preset", "added_guidance", "added_prompt"),
    **{name: ("strengths",) for name in BASELINES},
    "layer": ("layer_gains", "added_prompt"),
}


def read_only_by_others(method: str, key: str) -> list:
    """The methods that read ``key`` when ``method`` does not (empty where ``method`` reads it, or every method
    does). ``identity`` and ``reference`` (the evaluator's rows) read no method's own settings."""
    readers = [name for name, only in METHOD_ONLY_KEYS.items() if key in only]
    return [] if method in readers else readers


def flags_read_by(method: str, flags) -> list:
    """The ``--key=value`` flags of ``flags`` that ``method`` reads: settings shared by several methods (the
    evaluator's rows, the demo's editors) each go to the methods that read them.

    Example
    -------
    >>> flags_read_by("sdedit", ["--emb_steps=5", "--strengths=[0,1]", "--device=cpu"])
    ['--strengths=[0,1]', '--device=cpu']
    """
    return [flag for flag in flags if not read_only_by_others(method, flag.lstrip("-").partition("=")[0])]


def check_read_by(method: str, keys) -> None:
    """Refuse, in one line, a setting given for ``method`` that only other methods read (``--emb_steps`` with
    ``--method=layer`` would be silently ignored).

    Example
    -------
    >>> check_read_by("sdedit", ["strengths", "sample_steps"])
    >>> check_read_by("layer", ["emb_steps"])
    Traceback (most recent call last):
        ...
    audio_editing.errors.UserError: --emb_steps is not read by --method=layer (only by imagic); drop it, or choose --method=imagic
    """
    for key in keys:
        readers = read_only_by_others(method, key)
        if readers:
            raise UserError(f"--{key} is not read by --method={method} (only by {', '.join(readers)}); drop it, or "
                            f"choose --method={readers[0]}")


def method_applies(method: str, edit_type: str) -> bool:
    """Whether ``method`` edits clips of ``edit_type``: an editor that names its ``edit_types`` (the layer only
    adds) does those alone; the method and the baselines do every type.

    Example
    -------
    >>> method_applies("layer", "addition"), method_applies("layer", "inpainting"), method_applies("sdedit", "removal")
    (True, False, True)
    """
    allowed = getattr(EDITORS.get(method), "edit_types", None)
    return allowed is None or edit_type in allowed


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
    if editor.edit_type is not None and not method_applies(method, editor.edit_type):
        allowed = EDITORS[method].edit_types
        raise UserError(f"--method={method} is for {' and '.join(allowed)}, not {editor.edit_type}; pass "
                        f"--method=imagic or one of {', '.join(BASELINES)}")
    return with_edit_type(EDITORS[method], editor)
