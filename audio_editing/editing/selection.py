"""How an edit's sweep value (eta, or a baseline's strength) is chosen: the selection rules.

Each rule reads only the scorer's and the signal's numbers of a sweep (``scores``: Text and Audio scores, their
sum, onset F1 to the input, the filled span's Text), never the ground truth. ``select_index`` documents them.
"""

from audio_editing.errors import UserError

ONSET_WEIGHT = 0.3  # text_onset's weight of onset F1 where hparams name none (style transfer's, decided on the judge)
SELECTION_RULES = ("max_sum", "max_text", "text_onset", "text_onset_timed", "text_span")


def selection_keys(scores: dict, rule: str, onset_weight: float = ONSET_WEIGHT) -> list:
    """What ``rule`` maximises, one comparable key per sweep value (see :func:`select_index`).

    Keys of two sweeps of one clip compare too: the value with the highest key over both is the one
    the rule would choose from their union (``inversion_strength`` with several strengths).
    """
    text = scores["text_clap"]
    if rule == "max_sum":
        return list(scores["sum"])
    if rule == "max_text":
        return list(text)
    if rule == "text_onset":
        return [t + onset_weight * o for t, o in zip(text, scores["onset_f1"])]
    if rule == "text_onset_timed":  # a value that shares no onset with the input ranks below every one that does
        return [(o > 0, t + onset_weight * o) for t, o in zip(text, scores["onset_f1"])]
    if rule == "text_span":
        if "text_clap_span" not in scores:
            raise UserError("eta_selection text_span reads the Text score of the filled span: inpainting only")
        return [t + s for t, s in zip(text, scores["text_clap_span"])]
    raise UserError(f"unknown eta_selection {rule!r}; choose one of {', '.join(SELECTION_RULES)}")


def select_index(scores: dict, rule: str = "max_sum", onset_weight: float = ONSET_WEIGHT) -> int:
    """Index of the chosen sweep value.

    ``max_sum`` (the paper): the highest Text + Audio. It can choose a non-edit: the input
    itself scores Text(input) + 1. ``max_text``: the highest Text, whatever it costs the Audio score (the edit
    that follows the prompt most; keeping the input is left to eta's range). ``text_onset`` (addition's default): the highest
    Text + ``onset_weight`` x onset F1 to the input (follow the prompt and keep the input's onsets).
    ``text_onset_timed`` (style transfer's and removal's default): ``text_onset`` among the values that
    share some onset with the input (onset F1 > 0), all values when none does: an output whose every onset
    moved has lost the input's timing, whatever its Text score. ``text_span`` (inpainting's): the highest Text
    of the whole clip + Text of the filled span alone (the scene follows the prompt, and so does what was
    filled). None looks at anything but the scorer's and the signal's numbers. A rule measured and not adopted
    (the highest Sum among the values whose Text gains a margin over the input's) is in the selection-rule
    records of ``docs/experiments/``.

    Example
    -------
    >>> scores = {"text_clap": [0.60, 0.62, 0.70, 0.80], "audio_clap": [0.99, 0.96, 0.86, 0.70]}
    >>> scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    >>> select_index(scores, "max_sum"), select_index(scores, "max_text")
    (0, 3)
    >>> select_index({**scores, "onset_f1": [1.0, 1.0, 0.9, 0.4]}, "text_onset", onset_weight=0.3)
    2
    >>> select_index({**scores, "onset_f1": [0.2, 0.3, 0.0, 0.0]}, "text_onset", onset_weight=0.3)
    3
    >>> select_index({**scores, "onset_f1": [0.2, 0.3, 0.0, 0.0]}, "text_onset_timed", onset_weight=0.3)
    1
    >>> select_index({**scores, "text_clap_span": [0.2, 0.5, 0.6, 0.3]}, "text_span")
    2
    """
    keys = selection_keys(scores, rule, onset_weight)
    return max(range(len(keys)), key=keys.__getitem__)
