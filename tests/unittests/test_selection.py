"""The selection rules: which sweep value (eta, or a baseline's strength) an edit keeps, from the scores alone."""

import random

import pytest

from audio_editing.editing.selection import SELECTION_RULES, select_index, selection_keys
from audio_editing.errors import UserError


def test_selection_rules_choose_from_the_scores_and_text_gain_never_the_input():
    # the paper's rule picks the value closest to the input when Audio falls faster than Text rises
    scores = {"text_clap": [0.50, 0.52, 0.60, 0.75], "audio_clap": [0.98, 0.95, 0.85, 0.69]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores, "max_sum") == 0
    assert select_index(scores, "text_gain", text_input=0.50, margin=0.05) == 2
    assert select_index(scores, "text_gain", text_input=0.50, margin=0.2) == 3
    # nothing gains enough: the most edited value (highest Text), not the input-like one
    assert select_index(scores, "text_gain", text_input=0.9, margin=0.05) == 3


def test_max_text_selection_follows_the_prompt_whatever_the_audio_score():
    scores = {"text_clap": [0.50, 0.81, 0.80, 0.79], "audio_clap": [0.98, 0.40, 0.90, 0.95]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores, "max_text") == 1
    assert select_index(scores, "text_gain", text_input=0.50, margin=0.1) == 3  # the rule it differs from


def test_text_onset_selection_trades_text_for_kept_onsets_and_its_keys_compare_across_sweeps():
    scores = {"text_clap": [0.30, 0.80, 0.86, 0.88], "audio_clap": [0.99, 0.60, 0.50, 0.40],
              "onset_f1": [1.00, 0.90, 0.40, 0.00]}
    scores["sum"] = [t + a for t, a in zip(scores["text_clap"], scores["audio_clap"])]
    assert select_index(scores, "max_text") == 3  # the prompt followed, the input's timing lost
    assert select_index(scores, "text_onset", onset_weight=0.3) == 1
    assert select_index(scores, "text_onset", onset_weight=0.0) == 3
    # the timed rule never chooses a value that shares no onset with the input while another does...
    assert select_index(scores, "text_onset_timed", onset_weight=0.0) == 2
    assert select_index(scores, "text_onset_timed", onset_weight=0.3) == 1  # ...and is text_onset otherwise
    lost = {**scores, "onset_f1": [0.0] * 4}
    assert select_index(lost, "text_onset_timed", onset_weight=0.3) == select_index(lost, "text_onset") == 3
    # every rule's keys of two sweeps compare: the best key of one sweep against the other's is the choice
    # the rule makes from the two sweeps joined (what several inversion strengths rely on)
    rng = random.Random(0)
    for rule in ("max_sum", "max_text", "text_gain", "text_onset", "text_onset_timed"):
        for _ in range(50):
            a, b = ({c: [rng.random() for _ in range(5)] for c in ("text_clap", "audio_clap", "onset_f1")}
                    for _ in range(2))
            for s in (a, b):  # some values that lost every onset
                s["onset_f1"] = [o if o > 0.3 else 0.0 for o in s["onset_f1"]]
            for s in (a, b):
                s["sum"] = [t + x for t, x in zip(s["text_clap"], s["audio_clap"])]
            joined = {c: a[c] + b[c] for c in a}
            keys_a, keys_b = (selection_keys(s, rule, text_input=0.5, margin=0.1) for s in (a, b))
            best_a, best_b = max(keys_a), max(keys_b)
            index = select_index(joined, rule, text_input=0.5, margin=0.1)
            assert (index < 5) == (best_a >= best_b) or best_a == best_b, rule
