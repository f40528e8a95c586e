"""Tests of the procedural sound world (audio_editing.toy_world)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_editing.errors import UserError
from audio_editing.toy_world import (
    BACKGROUND_CLASSES, CLASS_WORDINGS, CLASSES, CLIP_SAMPLES, EDIT_TYPES, PEAK_LIMIT, SAMPLE_RATE, Event, Scene,
    caption, describe_event, duration_range, generate_examples, make_benchmark, render_event, render_scene,
    sample_params, sample_scene)
from audio_editing.toy_world.benchmark import main
from audio_editing.toy_world.captions import _SINGLE_TEMPLATES

PCM16_STEP = 1.0 / 32768


def _mel_filterbank(n_mels=64, n_fft=1024, fmax=8000.0):
    def hz_to_mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges = 700.0 * (10 ** (np.linspace(0.0, hz_to_mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - low) / (centre - low), (high - freqs) / (high - centre)))


MEL_FILTERBANK = _mel_filterbank()


def _log_mel(wav):
    """64-bin log-mel spectrogram (n_fft 1024, hop 160), shape (64, frames)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(wav.astype(float), 512), 1024)[::160]
    power = np.abs(np.fft.rfft(frames * np.hanning(1024), axis=1)) ** 2
    return np.log(MEL_FILTERBANK @ power.T + 1e-6)


def _class_features(label, seed):
    """Mean and spread over time of the log-mel bins of one event's active frames."""
    rng = np.random.default_rng(seed)
    duration = float(rng.uniform(*duration_range(label)))
    event = Event(label, 0.0, duration, sample_params(label, rng, duration))
    log_mel = _log_mel(render_event(event, CLIP_SAMPLES))
    active = log_mel[:, log_mel.max(axis=0) > log_mel.max() - 8.0]
    return np.concatenate([active.mean(axis=1), active.std(axis=1)])


def _scenes(count, seed, **kwargs):
    rng = np.random.default_rng(seed)
    return [sample_scene(rng, **kwargs) for _ in range(count)]


# ---------------------------------------------------------------- rendering


def test_generate_examples_is_deterministic_from_seed():
    first = list(generate_examples(4, seed=7))
    again = list(generate_examples(4, seed=7))
    other = list(generate_examples(4, seed=8))
    for (wav, text, scene), (wav_again, text_again, scene_again) in zip(first, again):
        assert np.array_equal(wav, wav_again)
        assert text == text_again
        assert scene == scene_again
    assert not np.array_equal(first[0][0], other[0][0])
    assert [text for _, text, _ in first] != [text for _, text, _ in other]


def test_render_scene_is_bit_identical_and_survives_json_round_trip():
    for scene in _scenes(5, seed=1, background="random"):
        wav = render_scene(scene)
        assert np.array_equal(wav, render_scene(scene))
        rebuilt = Scene.from_dict(json.loads(json.dumps(scene.to_dict())))
        assert np.array_equal(wav, render_scene(rebuilt))


def test_rendered_clips_are_float32_finite_limited_and_audible():
    for wav, _, scene in generate_examples(20, seed=2):
        assert wav.dtype == np.float32 and wav.shape == (CLIP_SAMPLES,)
        assert np.all(np.isfinite(wav))
        assert 0.05 < np.abs(wav).max() <= PEAK_LIMIT
    crowded = Scene([Event(label, 0.1 + 0.01 * index, 1.0, sample_params(label, np.random.default_rng(index), 1.0))
                     for index, label in enumerate(["siren", "whistle", "gunshot", "engine"])])
    for event in crowded.events:
        event.params["gain"] = 0.9
    assert np.abs(render_scene(crowded)).max() <= PEAK_LIMIT


@pytest.mark.parametrize("label", CLASSES)
def test_each_class_renders_only_inside_its_event(label):
    rng = np.random.default_rng(0)
    event = Event(label, 0.5, 1.0, sample_params(label, rng, 1.0))
    wav = render_event(event, CLIP_SAMPLES)
    assert np.all(np.isfinite(wav))
    assert np.abs(wav).max() == pytest.approx(event.params["gain"], rel=1e-5)
    assert not wav[:8000].any() and not wav[24000:].any()


def test_classes_are_distinguishable_on_log_mel_features():
    variants_per_class = 3
    labels = [label for label in CLASSES for _ in range(variants_per_class)]
    features = np.array([_class_features(label, seed) for label in CLASSES for seed in range(variants_per_class)])
    distances = np.linalg.norm(features[:, None] - features[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    same_class = np.equal.outer(labels, labels)
    for label in CLASSES:
        rows = [index for index, row_label in enumerate(labels) if row_label == label]
        within = distances[np.ix_(rows, rows)][np.isfinite(distances[np.ix_(rows, rows)])].mean()
        between = distances[rows][:, ~same_class[rows[0]]].mean()
        assert within < 0.8 * between, label
    nearest = distances.argmin(axis=1)
    accuracy = np.mean([labels[index] == labels[neighbour] for index, neighbour in enumerate(nearest)])
    assert accuracy >= 0.9


# ---------------------------------------------------------------- scenes


def test_sample_scene_places_one_to_three_events_with_distinct_onsets():
    scenes = _scenes(200, seed=3, background="random")
    for scene in scenes:
        assert 1 <= len(scene.events) <= 3
        onsets = [event.onset for event in scene.events]
        assert len(set(onsets)) == len(onsets)
        for event in scene.events:
            assert 0.0 <= event.onset and event.onset + event.duration <= scene.seconds + 1e-9
            assert event.label != scene.background
    with_background = [scene.background for scene in scenes if scene.background is not None]
    assert 0.18 < len(with_background) / len(scenes) < 0.42
    assert set(with_background) == set(BACKGROUND_CLASSES)


def test_sample_scene_honours_labels_and_background():
    scene = sample_scene(np.random.default_rng(0), labels=["knock", "knock", "dog"], background="engine")
    assert sorted(event.label for event in scene.events) == ["dog", "knock", "knock"]
    assert scene.background == "engine" and scene.background_params
    assert all(sample_scene(np.random.default_rng(seed)).background is None for seed in range(5))
    with pytest.raises(UserError):
        sample_scene(np.random.default_rng(0), labels=["unicorn"])
    with pytest.raises(UserError):
        sample_scene(np.random.default_rng(0), background="dog")


# ---------------------------------------------------------------- captions


def test_wordings_are_plentiful_and_splits_disjoint():
    assert len(CLASSES) >= 12 and set(CLASS_WORDINGS) == set(CLASSES)
    for label in CLASSES:
        assert len(CLASS_WORDINGS[label]["train"]) >= 6
        assert len(CLASS_WORDINGS[label]["heldout"]) >= 2
    train = {wording for label in CLASSES for wording in CLASS_WORDINGS[label]["train"]}
    heldout = {wording for label in CLASSES for wording in CLASS_WORDINGS[label]["heldout"]}
    assert not train & heldout


def test_heldout_captions_are_never_produced_by_train_split():
    scenes = _scenes(300, seed=4, background="random")
    rng = np.random.default_rng(0)
    train = {caption(scene, rng, "train") for scene in scenes}
    heldout = {caption(scene, rng, "heldout") for scene in scenes}
    assert len(train) > 250 and len(heldout) > 200
    assert not train & heldout


def test_captions_name_every_event_class_and_count_repeats():
    rng = np.random.default_rng(5)
    for scene in _scenes(50, seed=5, background="random"):
        for split in ("train", "heldout"):
            text = caption(scene, rng, split)
            for label in {event.label for event in scene.events} | {scene.background} - {None}:
                assert any(wording in text for wording in CLASS_WORDINGS[label][split]), (label, text)
    twice = Scene([Event("dog", 0.1, 0.4, {}), Event("dog", 1.2, 0.4, {})])
    assert caption(twice, rng, "train").endswith("twice")
    assert caption(twice, rng, "heldout").endswith(("two times", "a couple of times"))
    sequence = Scene([Event("siren", 0.0, 0.8, {}), Event("phone", 1.2, 0.8, {})])
    texts = {caption(sequence, rng) for _ in range(40)}
    assert any(", then " in text or " followed by " in text for text in texts)


def test_describe_event_uses_the_split_vocabulary():
    rng = np.random.default_rng(6)
    for label in CLASSES:
        for split in ("train", "heldout"):
            text = describe_event(label, rng, split)
            assert any(wording in text for wording in CLASS_WORDINGS[label][split])
    with pytest.raises(UserError):
        describe_event("dog", rng, "test")


def test_train_more_adds_wordings_but_no_word_of_a_heldout_wording():
    """The UNet's extra wordings (``recaption_vocabulary: train_more``) must leave the held-out paraphrases
    unseen: no word of a held-out wording that the training wordings lack."""
    def words(wordings):
        return {word for wording in wordings for word in re.findall(r"[a-z]+", wording)}

    train_words = words(w for label in CLASSES for w in CLASS_WORDINGS[label]["train"])
    heldout_words = words(w for label in CLASSES for w in CLASS_WORDINGS[label]["heldout"]) - train_words
    rng = np.random.default_rng(7)
    for label in CLASSES:
        more = set(CLASS_WORDINGS[label]["train_more"]) - set(CLASS_WORDINGS[label]["train"])
        assert len(more) >= 4 and set(CLASS_WORDINGS[label]["train"]) < set(CLASS_WORDINGS[label]["train_more"])
        assert not words(more) & heldout_words, label
    scenes = _scenes(300, seed=8, background="random")
    grammar_words = words(caption(scene, rng, "train") for scene in scenes)  # "over" of "X over rain" ...
    assert not words(caption(scene, rng, "train_more") for scene in scenes) & (heldout_words - grammar_words)
    for label in CLASSES:  # train_more draws prompts that "train" cannot
        train_prompts = {template.format(wording) for template, _ in _SINGLE_TEMPLATES["train"]
                         for wording in CLASS_WORDINGS[label]["train"]}
        assert {describe_event(label, rng, "train_more") for _ in range(100)} - train_prompts, label
    with pytest.raises(UserError, match="vocabulary"):
        caption(Scene([Event("dog", 0.1, 0.4, {})]), rng, "more")


# ---------------------------------------------------------------- benchmark


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("benchmark")
    manifest_path = make_benchmark(out_dir, seed=0)
    return manifest_path, json.loads(manifest_path.read_text())


def _read(manifest_path, name):
    wav, rate = soundfile.read(manifest_path.parent / name, dtype="float64")
    assert rate == SAMPLE_RATE and soundfile.info(manifest_path.parent / name).subtype == "PCM_16"
    return wav


def test_benchmark_has_nine_items_of_each_type_with_clip_length_files(benchmark):
    manifest_path, manifest = benchmark
    assert len(manifest) == 9 * len(EDIT_TYPES)
    for edit_type in EDIT_TYPES:
        assert sorted(key for key, entry in manifest.items() if entry["edit_type"] == edit_type) == [
            f"{edit_type}_{index:02d}" for index in range(9)]
    for entry in manifest.values():
        assert entry["target_prompt"] and entry["source_prompt"]
        for name in (entry["wav"], entry["reference"]):
            assert len(_read(manifest_path, name)) == CLIP_SAMPLES


def test_shipped_benchmark_is_the_generated_one(benchmark):
    manifest_path, manifest = benchmark
    shipped = Path(__file__).resolve().parents[2] / "benchmarks" / "toy_world"
    assert json.loads((shipped / "manifest.json").read_text()) == manifest
    assert (shipped / "inpainting_00_input.wav").read_bytes() == (
        manifest_path.parent / "inpainting_00_input.wav").read_bytes()


def test_benchmark_is_deterministic(benchmark, tmp_path):
    manifest_path, manifest = benchmark
    again = make_benchmark(tmp_path, seed=0)
    assert json.loads(again.read_text()) == manifest
    assert (tmp_path / "addition_03_reference.wav").read_bytes() == (
        manifest_path.parent / "addition_03_reference.wav").read_bytes()


def test_inpainting_zeroes_exactly_the_span_over_an_event_onset(benchmark):
    manifest_path, manifest = benchmark
    for entry in (entry for entry in manifest.values() if entry["edit_type"] == "inpainting"):
        masked, reference = _read(manifest_path, entry["wav"]), _read(manifest_path, entry["reference"])
        start, end = round(entry["mask_start"] * SAMPLE_RATE), round(entry["mask_end"] * SAMPLE_RATE)
        assert 0.4 <= entry["mask_end"] - entry["mask_start"] <= 0.9
        assert not masked[start:end].any() and np.abs(reference[start:end]).max() > 0.05
        assert np.array_equal(masked[:start], reference[:start]) and np.array_equal(masked[end:], reference[end:])
        assert np.abs(masked).max() >= 0.05  # something audible is left to keep
        onsets = [event["onset"] for event in entry["reference_scene"]["events"]
                  if event["label"] == entry["target_label"]]
        assert any(entry["mask_start"] <= onset < entry["mask_end"] for onset in onsets)


def test_addition_reference_is_input_plus_the_added_event(benchmark):
    manifest_path, manifest = benchmark
    for entry in (entry for entry in manifest.values() if entry["edit_type"] == "addition"):
        source, target = (Scene.from_dict(entry[key]) for key in ("input_scene", "reference_scene"))
        assert target.events[:-1] == source.events and target.background_params == source.background_params
        added = target.events[-1]
        assert added.label == entry["added_label"]
        assert added.label not in {event.label for event in source.events} | {source.background}
        difference = _read(manifest_path, entry["reference"]) - _read(manifest_path, entry["wav"])
        expected = render_event(added, CLIP_SAMPLES)
        assert np.abs(difference - expected).max() < 4 * PCM16_STEP
        assert np.abs(expected).max() > 0.2


def test_style_transfer_keeps_onsets_durations_and_background(benchmark):
    _, manifest = benchmark
    for entry in (entry for entry in manifest.values() if entry["edit_type"] == "style_transfer"):
        source, target = (Scene.from_dict(entry[key]) for key in ("input_scene", "reference_scene"))
        assert entry["source_label"] != entry["target_label"]
        assert {event.label for event in source.events} == {entry["source_label"]}
        assert {event.label for event in target.events} == {entry["target_label"]}
        assert [(e.onset, e.duration) for e in source.events] == [(e.onset, e.duration) for e in target.events]
        assert (source.background, source.background_params) == (target.background, target.background_params)


def test_removal_reference_is_the_input_without_one_event_the_only_one_of_its_class(benchmark):
    manifest_path, manifest = benchmark
    for entry in (entry for entry in manifest.values() if entry["edit_type"] == "removal"):
        source, target = (Scene.from_dict(entry[key]) for key in ("input_scene", "reference_scene"))
        assert 2 <= len(source.events) <= 3
        removed = [event for event in source.events if event not in target.events]
        assert len(removed) == 1 and removed[0].label == entry["removed_label"]
        assert [event.label for event in source.events].count(entry["removed_label"]) == 1
        assert (source.background, source.background_params) == (target.background, target.background_params)
        difference = _read(manifest_path, entry["wav"]) - _read(manifest_path, entry["reference"])
        assert np.abs(difference - render_event(removed[0], CLIP_SAMPLES)).max() < 4 * PCM16_STEP


def test_a_new_edit_type_leaves_the_earlier_types_clips_as_they_were(benchmark, tmp_path, monkeypatch):
    """Types after the first three draw from streams of their own: adding one changes no other clip."""
    from audio_editing.toy_world import benchmark as module

    manifest_path, manifest = benchmark
    monkeypatch.setattr(module, "EDIT_TYPES", ("addition", "style_transfer", "inpainting"))
    fewer = json.loads(make_benchmark(tmp_path, seed=0, n_per_type=9).read_text())
    assert fewer == {key: entry for key, entry in manifest.items() if entry["edit_type"] != "removal"}


def test_command_line_writes_listening_examples(tmp_path, capsys):
    assert main(["--examples", "2", "--out", str(tmp_path), "--seed", "1"]) == 0
    captions_path = tmp_path / "captions.txt"
    assert capsys.readouterr().out.strip() == str(captions_path)
    lines = captions_path.read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["example_000.wav", "example_001.wav"]
    assert soundfile.info(tmp_path / "example_001.wav").frames == CLIP_SAMPLES
