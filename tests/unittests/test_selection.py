"""The selection rules: which sweep value (eta, or a baseline's strength) an edit keeps, from the scores alone."""

import random

import pytest

from audio_editing.editing.selection import SELECTION_RULES, select_index, selection_keys
from audio_editing.errors import UserError


def test_the_paper_s_rule_can_choose_the_value_closest_to_the_input():
    # Audio falls faster than Text rises: the highest sum is the least edited value
    scores = {"text_clap": [0.50, 0.52, 0.60, 0.75], "audio_clap": [0.98, 0.95, 0.85, 0.69]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores, "max_sum") == 0
    assert select_index(scores, "max_text") == 3  # the prompt followed, whatever the Audio score


def test_max_text_selection_follows_the_prompt_whatever_the_audio_score():
    scores = {"text_clap": [0.50, 0.81, 0.80, 0.79], "audio_clap": [0.98, 0.40, 0.90, 0.95]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores, "max_text") == 1 and select_index(scores, "max_sum") == 3


def test_text_onset_selection_trades_text_for_kept_onsets_and_its_keys_compare_across_sweeps():
    scores = {"text_clap": [0.30, 0.80, 0.86, 0.88], "audio_clap": [0.99, 0.60, 0.50, 0.40],
              "onset_f1": [1.00, 0.90, 0.40, 0.00]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores, "text_onset", onset_weight=0.3) == 1
    assert select_index(scores, "text_onset", onset_weight=0.0) == 3  # the prompt followed, the timing lost
    # the timed rule never chooses a value that shares no onset with the input while another does...
    assert select_index(scores, "text_onset_timed", onset_weight=0.0) == 2
    assert select_index(scores, "text_onset_timed", onset_weight=0.3) == 1  # ...and is text_onset otherwise
    lost = {**scores, "onset_f1": [0.0] * 4}
    assert select_index(lost, "text_onset_timed", onset_weight=0.3) == select_index(lost, "text_onset") == 3
    # every rule's keys of two sweeps compare: the best key of one sweep against the other's is the choice
    # the rule makes from the two sweeps joined (what several inversion strengths rely on)
    rng = random.Random(0)
    for rule in ("max_sum", "max_text", "text_onset", "text_onset_timed"):
        for _ in range(50):
            a, b = ({c: [rng.random() for _ in range(5)] for c in ("text_clap", "audio_clap", "onset_f1")}
                    for _ in range(2))
            for s in (a, b):  # some values that lost every onset
                s["onset_f1"] = [o if o > 0.3 else 0.0 for o in s["onset_f1"]]
            for s in (a, b):
                s["sum"] = [t + x for t, x in zip(s["text_clap"], s["audio_clap"])]
            joined = {c: a[c] + b[c] for c in a}
            keys_a, keys_b = (selection_keys(s, rule, 0.3) for s in (a, b))
            best_a, best_b = max(keys_a), max(keys_b)
            index = select_index(joined, rule, 0.3)
            assert (index < 5) == (best_a >= best_b) or best_a == best_b, rule


def test_each_rule_s_defaults_and_boundaries():
    # values exact in binary, so that a boundary is a boundary
    scores = {"text_clap": [0.5, 0.75, 1.0], "audio_clap": [0.9375, 0.875, 0.5], "onset_f1": [1.0, 0.5, 0.0]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores) == select_index(scores, "max_sum") == 1  # the paper's rule by default
    # text_onset: Text + weight x onset F1, the weight 0.3 by default
    assert selection_keys(scores, "text_onset", 0.3) == pytest.approx([0.8, 0.9, 1.0])
    assert select_index(scores, "text_onset") == 2 and select_index(scores, "text_onset", onset_weight=0.6) == 0
    # text_onset_timed: onset F1 of exactly 0 ranks below any shared onset
    assert selection_keys(scores, "text_onset_timed", 0.3)[2] == (False, 1.0)
    assert select_index(scores, "text_onset_timed") == 1
    assert select_index({**scores, "onset_f1": [0.0, 0.0, 0.01]}, "text_onset_timed") == 2
    # text_span: the whole clip's Text plus the filled span's
    span = {**scores, "text_clap_span": [0.75, 0.25, 0.0]}
    assert selection_keys(span, "text_span", 0.3) == [1.25, 1.0, 1.0] and select_index(span, "text_span") == 0
    # ties go to the first value
    assert select_index({**scores, "sum": [1.5, 1.5, 1.5]}, "max_sum") == 0
    assert select_index({**scores, "text_clap": [0.75, 0.75, 0.75]}, "max_text") == 0


def test_rules_refuse_what_they_cannot_read():
    scores = {"text_clap": [0.5], "audio_clap": [0.9], "sum": [1.4]}
    with pytest.raises(UserError, match="text_span reads the Text score of the filled span: inpainting only"):
        select_index(scores, "text_span")
    for retired in ("best", "text_gain"):  # text_gain: measured and not adopted, gone
        with pytest.raises(UserError, match=f"unknown eta_selection '{retired}'; choose one of "
                                            + ", ".join(SELECTION_RULES)):
            select_index(scores, retired)
