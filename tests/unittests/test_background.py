"""Keeping the input's background (``keep_background``, style transfer's default): the bed an edit lost comes
back at the input's level, none of the input's events come back with it, and an edit that kept its bed (or an
input without one) gets nothing."""

import dataclasses

import numpy as np
import pytest
import torch

from audio_editing import toy_world
from audio_editing.data.audio import OUTPUT_PEAK
from audio_editing.editing.background import restore_background

RATE = 16000


def render(scene):
    return torch.from_numpy(toy_world.render_scene(scene)).float()


@pytest.fixture(scope="module")
def parts():
    """A clip of two dog barks over rain, its parts apart, and an "edit": two beeps with no bed."""
    scene = toy_world.sample_scene(np.random.default_rng(4), seconds=2.56, labels=["dog", "dog"], background="rain")
    beeps = toy_world.sample_scene(np.random.default_rng(5), seconds=2.56, labels=["beep", "beep"], background=None)
    return {"input": render(scene), "events": render(dataclasses.replace(scene, background=None)),
            "bed": render(dataclasses.replace(scene, events=[])), "edit": render(beeps)}


def rms(x):
    return float(x.pow(2).mean().sqrt())


def test_a_lost_bed_comes_back_at_its_level_without_the_input_events(parts):
    out = restore_background(parts["input"], parts["edit"][None], RATE)[0]
    added = out - parts["edit"]
    assert rms(added) == pytest.approx(rms(parts["bed"]), rel=0.15)
    events = parts["events"]  # the dogs: what the edit replaced must not come back
    assert abs(float(added @ events)) / float(events @ events) < 0.05


def test_an_edit_that_kept_the_bed_and_an_input_without_one_get_nothing(parts):
    kept = (parts["edit"] + parts["bed"])[None]
    assert rms(restore_background(parts["input"], kept, RATE) - kept) < 0.2 * rms(parts["bed"])  # < 4 % of its power
    no_bed = restore_background(parts["events"], parts["edit"][None], RATE)
    assert rms(no_bed - parts["edit"]) < 0.01 * rms(parts["events"])
    same = parts["input"][None]
    assert torch.equal(restore_background(parts["input"], same, RATE), same)


def test_each_channel_gets_its_own_bed_and_nothing_is_louder_than_full_scale(parts):
    stereo = torch.stack([parts["input"], parts["events"]])  # rain on the left only
    edits = torch.stack([parts["edit"], parts["edit"]])[None].repeat(2, 1, 1)
    edits = edits * torch.tensor([1.0, 4.0])[:, None, None]  # the second too loud once the bed is added
    out = restore_background(stereo, edits, 44100)
    assert out.shape == edits.shape
    assert rms(out[0, 0] - edits[0, 0]) > 0.5 * rms(parts["bed"])
    assert rms(out[0, 1] - edits[0, 1]) < 0.01 * rms(parts["events"])
    assert float(out.abs().max()) <= max(OUTPUT_PEAK, float(stereo.abs().max())) + 1e-6
