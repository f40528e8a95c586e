"""``recipes/toy_world/check_model.py``: the composition rule, its scenes, and the script on the shipped model
(a few clips, two sampling steps: the numbers are not the model's, the ceiling and the layout are)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from audio_editing import toy_world
from audio_editing.toy_world.checks import COMPOSITION_FORMS, all_detected, composition_scene, scene_classes
from tests.conftest import REPO


def test_all_detected_needs_every_prompted_class_and_tolerates_only_a_bed():
    assert all_detected(["dog", "siren"], ["dog", "siren"])
    assert all_detected(["dog"], ["dog", "rain"])  # an unprompted bed is not a foreground event
    assert not all_detected(["dog", "siren"], ["dog"])
    assert not all_detected(["dog"], ["dog", "beep"])
    assert not all_detected(["dog"], [])


@pytest.mark.parametrize("form", COMPOSITION_FORMS)
def test_composition_scenes_have_the_form_they_are_named_for(form):
    rng = np.random.default_rng(0)
    for _ in range(20):
        scene = composition_scene(form, rng)
        labels = [event.label for event in scene.events]
        assert not set(labels) & set(toy_world.BACKGROUND_CLASSES)
        if form == "two_events":
            assert len(set(labels)) == 2 and len(labels) == 2 and scene.background is None
        elif form == "over_background":
            assert len(labels) == 1 and scene.background in toy_world.BACKGROUND_CLASSES
        else:
            assert len(set(labels)) == 1 and 2 <= len(labels) <= 3 and scene.background is None
        assert set(scene_classes(scene)) == set(labels) | ({scene.background} - {None})
    with pytest.raises(ValueError, match="form must be one of"):
        composition_scene("three_events", rng)


@pytest.mark.slow
def test_check_model_reports_every_number_and_no_machine_path(tmp_path):
    output_json = tmp_path / "check.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "toy_world" / "check_model.py"), "embedded:toy_world",
         "--clips_per_class=1", "--clips_per_form=2", "--num_steps=2", "--more_steps=3", "--num_heldout_clips=32",
         f"--output_json={output_json}", "--noprogressbar"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = output_json.read_text()
    assert str(tmp_path) not in text and str(REPO) not in text
    report = json.loads(text)
    for wordings in ("train_wordings", "heldout_wordings"):
        for key in ("generation_top1", "generation_judged", "generation_all_detected",
                    "generation_evaluator_topk", "rendered_all_detected", "generation_judged_{}_3_steps"):
            name = key.format(wordings) if "{}" in key else f"{key}_{wordings}"
            assert 0.0 <= report["results"][name] <= 1.0
        # the ceiling: composed scenes rendered and heard through the model's VAE and vocoder are all judged whole
        assert report["results"][f"rendered_all_detected_{wordings}"] == 1.0
        # the rates are the per-take verdicts the report lists: a wrong count or denominator shows here
        split = wordings.split("_")[0]
        single, composed = report["generation"][split], report["generation"][f"composition_{split}"]
        assert report["results"][f"generation_judged_{wordings}"] == pytest.approx(
            np.mean(list(single["judge_per_class"].values())))
        assert report["results"][f"generation_all_detected_{wordings}"] == pytest.approx(
            np.mean([all_detected(c, d) for c, d in zip(composed["classes"], composed["detected"])]))
    composition = report["generation"]["composition_train"]
    assert len(composition["prompts"]) == 2 * len(COMPOSITION_FORMS) == len(composition["detected"])


def _render_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_table", REPO / "recipes" / "toy_world" / "render_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_render_table_counts_each_take_once_per_setting(tmp_path):
    """Two settings of where sampling starts, two step counts: one row per prompt and start, counts within the
    takes (heard >= clean; heard + silent <= takes), the model's own start resolved, the JSON written."""
    rows = _render_table().main(["embedded:toy_world", "--prompts=a dog barks=dog;a machine beeps=beep",
                                 "--steps=2,3", "--first_timesteps=999,model", "--takes=2",
                                 f"--output_json={tmp_path / 'table.json'}"])
    shipped = json.loads((REPO / "audio_editing" / "pretrained" / "toy_world" / "backbone.json").read_text())
    assert [(row["class"], row["first_timestep"]) for row in rows] == [
        ("dog", 999), ("beep", 999), ("dog", shipped["first_timestep"]), ("beep", shipped["first_timestep"])]
    for row in rows:
        assert sorted(row["cells"]) == [2, 3]
        for cell in row["cells"].values():
            assert cell["takes"] == 2 and cell["clean"] <= cell["heard"] and cell["heard"] + cell["silent"] <= 2
    assert len(json.loads((tmp_path / "table.json").read_text())["rows"]) == 4


@pytest.mark.parametrize("argument, message", [("--prompts=a cow moos=cow", "classes the judge does not know: cow"),
                                               ("--prompts=a dog barks", "prompt=class"),
                                               ("--steps=25,many", "--steps must be")])
def test_render_table_bad_input_is_a_user_error(argument, message):
    from audio_editing.errors import UserError

    with pytest.raises(UserError, match=message):
        _render_table().main(["embedded:toy_world", argument])
