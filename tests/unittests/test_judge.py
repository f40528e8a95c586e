"""The judge: annotations, the success rules on the benchmark's ground truth, the shipped detector's
verdict on the reference edits and the unchanged inputs, folder round trip."""

import json

import numpy as np
import pytest
import torch

from audio_editing import toy_world
from audio_editing.data.audio import load_audio
from audio_editing.registry import load_judge
from audio_editing.toy_world.judge import Detection, SoundEventDetector, audible_offset, judge_edit, scene_annotation
from tests.conftest import REPO

MANIFEST = REPO / "benchmarks" / "toy_world" / "manifest.json"


def benchmark_entries():
    return [dict(entry, id=key) for key, entry in json.loads(MANIFEST.read_text()).items()]


def test_annotations_end_where_the_sound_ends_and_beds_span_the_clip():
    scene = toy_world.sample_scene(np.random.default_rng(5), labels=["dog", "knock"], background="rain")
    annotation = scene_annotation(scene)
    assert Detection("rain", 0.0, scene.seconds) in annotation
    for event in scene.events:
        offset = audible_offset(event, scene.seconds)
        assert event.onset < offset <= event.onset + event.duration + 0.01
        wav = toy_world.render_event(event, toy_world.CLIP_SAMPLES)
        after = wav[round(offset * 16000):]
        assert np.abs(after).max(initial=0.0) < 0.05 * np.abs(wav).max()  # nothing loud left after it


def masked(events, start, end):
    """What a perfect detector hears in an inpainting input: nothing inside the blank span."""
    out = []
    for d in events:
        if d.offset <= start or d.onset >= end:
            out.append(d)
            continue
        if d.onset < start:
            out.append(Detection(d.label, d.onset, start))
        if d.offset > end:
            out.append(Detection(d.label, end, d.offset))
    return out


@pytest.mark.parametrize("edit_type", toy_world.EDIT_TYPES)
def test_a_perfect_detector_passes_every_reference_edit_and_fails_every_unchanged_input(edit_type):
    for entry in [e for e in benchmark_entries() if e["edit_type"] == edit_type]:
        reference = scene_annotation(toy_world.Scene.from_dict(entry["reference_scene"]))
        source = scene_annotation(toy_world.Scene.from_dict(entry["input_scene"]))
        if edit_type == "inpainting":
            source = masked(source, entry["mask_start"], entry["mask_end"])
        verdict = judge_edit(entry, reference)
        assert verdict["judge_success"] == 1.0 and verdict["judge_event_f1"] == 1.0, (entry["id"], verdict)
        assert judge_edit(entry, source)["judge_success"] == 0.0, entry["id"]
        assert judge_edit(entry, [])["judge_success"] == 0.0


def test_preservation_counts_the_input_events_that_stay():
    entry = next(e for e in benchmark_entries() if e["edit_type"] == "addition")
    reference = scene_annotation(toy_world.Scene.from_dict(entry["reference_scene"]))
    kept_events = [d for d in reference if d.label != entry["added_label"]]
    moved = [Detection(d.label, d.onset + 0.5, d.offset + 0.5) for d in kept_events]  # beyond the collar
    added = [d for d in reference if d.label == entry["added_label"]]
    assert judge_edit(entry, added + kept_events)["judge_preservation"] == 1.0
    verdict = judge_edit(entry, added + moved)
    assert verdict["judge_target"] == 1.0 and verdict["judge_preservation"] < 1.0
    assert verdict["judge_success"] == 0.0


def test_removal_needs_the_removed_class_gone_from_where_it_was_and_every_other_event_kept():
    for entry in [e for e in benchmark_entries() if e["edit_type"] == "removal"]:
        source = scene_annotation(toy_world.Scene.from_dict(entry["input_scene"]))
        reference = scene_annotation(toy_world.Scene.from_dict(entry["reference_scene"]))
        removed = next(d for d in source if d.label == entry["removed_label"])
        assert removed not in reference and [d for d in source if d != removed] == reference
        assert judge_edit(entry, reference)["judge_success"] == 1.0
        verdict = judge_edit(entry, reference + [removed])  # still there
        assert verdict["judge_target"] == 0.0 and verdict["judge_preservation"] == 1.0
        late = Detection(removed.label, removed.onset + 0.15, removed.offset + 0.15)  # moved inside the collar
        assert judge_edit(entry, reference + [late])["judge_target"] == 0.0
        elsewhere = Detection(removed.label, removed.offset + 0.3, removed.offset + 0.4)  # after it had ended
        assert judge_edit(entry, reference + [elsewhere])["judge_target"] == 1.0
        others_lost = judge_edit(entry, reference[1:])  # the first event that should stay is gone
        assert others_lost["judge_target"] == 1.0 and others_lost["judge_preservation"] < 1.0
        assert others_lost["judge_success"] == 0.0


def test_the_shipped_judge_passes_the_reference_edits_and_fails_the_inputs():
    judge = load_judge("embedded:toy_world")
    assert judge is not None, "the embedded model ships a judge/ folder"
    for edit_type in toy_world.EDIT_TYPES:
        entries = [e for e in benchmark_entries() if e["edit_type"] == edit_type]
        success = {}
        for row, key in (("reference", "reference"), ("identity", "wav")):
            wavs = [load_audio(MANIFEST.parent / e[key], 16000) for e in entries]
            success[row] = np.mean([judge.judge_outputs(e, w[None], 16000)[0]["judge_success"]
                                    for e, w in zip(entries, wavs)])
        assert success["reference"] >= 0.9 and success["identity"] <= 0.12, (edit_type, success)


def test_a_saved_judge_loads_and_detects_the_same(tmp_path):
    judge = SoundEventDetector.build_tiny(seed=3)
    judge.save_pretrained(tmp_path / "judge")
    loaded = load_judge(str(tmp_path))
    wav = torch.from_numpy(toy_world.render_scene(toy_world.sample_scene(np.random.default_rng(0))))[None]
    assert torch.equal(judge.frame_probabilities(wav, 16000), loaded.frame_probabilities(wav, 16000))
    assert load_judge(None) is None and load_judge(str(tmp_path / "nothing_here")) is None


def test_a_blank_span_is_no_fill_whatever_the_detector_says():
    """A recurrent detector may carry a ticking clock across a blank span; the inpainting rule does not
    count a span that holds no sound."""
    entry = next(e for e in benchmark_entries() if e["edit_type"] == "inpainting")
    reference = scene_annotation(toy_world.Scene.from_dict(entry["reference_scene"]))
    assert judge_edit(entry, reference, span_audible=True)["judge_success"] == 1.0
    assert judge_edit(entry, reference, span_audible=False)["judge_success"] == 0.0
    judge = load_judge("embedded:toy_world")
    blank = load_audio(MANIFEST.parent / entry["wav"], 16000)
    filled = load_audio(MANIFEST.parent / entry["reference"], 16000)
    verdicts = judge.judge_outputs(entry, torch.stack([blank, filled]), 16000)
    assert [v["judge_success"] for v in verdicts] == [0.0, 1.0]
