"""Generate and layer (``--method=layer``, addition only): the input kept under the layer, the layer's
level, the prompt part it adds, and the errors of the settings it cannot take."""

import numpy as np
import pytest
import soundfile as sf
import torch

from audio_editing.editing.edit_types import editor_class
from audio_editing.editing.added_sound import missing_event, prompt_events
from audio_editing.editing.layering import LayerEditor, mix_layers
from audio_editing.editing.methods import with_method
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from tests.conftest import REPO, tiny_args, write_scene_clip


def layer_edit(clip, model_dir, out_dir, edit_type="addition", *extra, prompt="a dog barks while a siren wails"):
    gains = ["--layer_gains=[0.25,0.5]"] if edit_type == "addition" else []
    return run_edit(editor_class(edit_type),
                    [f"hparams/{edit_type}.yaml", f"--input_wav={clip}", f"--target_prompt={prompt}",
                     *tiny_args(model_dir, out_dir, "--method=layer", *gains, *extra)])


@pytest.fixture
def quiet_clip(tmp_path):
    """A scene at peak 0.2, so no layered output reaches full scale (nothing scaled down)."""
    path = write_scene_clip(tmp_path / "quiet.wav", ["dog"], seed=3)
    wav, rate = sf.read(path, dtype="float32")
    sf.write(str(path), 0.2 * wav / np.abs(wav).max(), rate, subtype="FLOAT")
    return path


def test_layer_keeps_the_input_sample_for_sample_and_adds_a_layer_at_each_gain(quiet_clip, tiny_model_dir, tmp_path):
    result = layer_edit(quiet_clip, tiny_model_dir, tmp_path)
    original, _ = sf.read(quiet_clip, dtype="float32")
    rms_in = np.sqrt(np.mean(original ** 2))
    assert result.sweep == "gain" and result.etas == [0.25, 0.5]
    for gain in (0.25, 0.5):
        out, _ = sf.read(result.folder / f"edit_gain{gain:.2f}.wav", dtype="float32")
        assert len(out) == len(original) and np.abs(out).max() < 0.99
        layer = out - original  # what was added; the input itself is untouched under it
        assert np.sqrt(np.mean(layer ** 2)) / rms_in == pytest.approx(gain, rel=0.02)
    assert (result.folder / "best.wav").is_file() and not (result.folder / "save").exists()  # nothing trained
    assert result.metrics["added_prompt"] in ("a dog barks", "a siren wails")


def test_added_prompt_names_the_sound_to_add(clip, tiny_model_dir, tmp_path):
    result = layer_edit(clip, tiny_model_dir, tmp_path, "addition", "--added_prompt=a phone rings")
    assert result.metrics["added_prompt"] == "a phone rings"


def test_prompt_parts_and_the_part_the_input_lacks():
    assert prompt_events("a machine beeps and ticking while a gun fires") == ["a machine beeps", "ticking",
                                                                              "a gun fires"]
    assert prompt_events("a shrill whistle before someone knocks, while rain pours down") == [
        "a shrill whistle", "someone knocks", "rain pours down"]
    assert prompt_events("a dog barks") == ["a dog barks"]
    assert missing_event(["a", "b", "c"], [0.5, 0.9, 0.1]) == "c"


def test_mix_layers_scales_each_layer_to_its_gain_and_limits_only_what_is_too_loud():
    torch.manual_seed(0)
    wav, layers = 0.1 * torch.randn(1000), torch.randn(2, 1000)
    mixed = mix_layers(wav, layers, [1.0, 50.0], peak=0.9)
    added = mixed[0] - wav
    assert added.pow(2).mean().sqrt() == pytest.approx(wav.pow(2).mean().sqrt().item(), rel=1e-4)
    assert mixed[1].abs().max() == pytest.approx(0.9)  # too loud: scaled down as a whole
    stereo = mix_layers(torch.stack([wav, wav]), layers[:, None].repeat(1, 2, 1), [1.0, 2.0])
    assert stereo.shape == (2, 2, 1000) and torch.allclose(stereo[:, 0], stereo[:, 1])


def test_layer_is_refused_for_style_transfer_and_bad_settings_before_writing(clip, tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match="for addition"):
        layer_edit(clip, tiny_model_dir, tmp_path / "a", "style_transfer")
    with pytest.raises(UserError, match="layer_gains"):
        layer_edit(clip, tiny_model_dir, tmp_path / "b", "addition", "--layer_gains=[0.5,-1]")
    with pytest.raises(UserError, match="unknown --method"):
        layer_edit(clip, tiny_model_dir, tmp_path / "c", "addition", "--method=magic")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_with_method_builds_on_the_recipe_editor_and_keeps_explicit_rows():
    addition = editor_class("addition")
    layered = with_method(addition, "layer")
    assert issubclass(layered, LayerEditor) and issubclass(layered, addition) and layered.edit_type == "addition"
    assert with_method(addition, "imagic") is addition and with_method(layered, "imagic") is layered


def test_evaluate_names_each_rows_method_and_refuses_one_for_all(tmp_path):
    from audio_editing.evaluation import batch
    from audio_editing.evaluation.rows import METHODS

    assert METHODS["layer"] == ["--method=layer"] and "--method=imagic" in METHODS["imagic"]
    with pytest.raises(UserError, match="--methods"):
        batch.check_settings(tmp_path, ["--method=layer"], REPO, ["addition"])


def test_layer_on_a_long_stereo_input_keeps_its_rate_layout_length_and_samples(tiny_model_dir, tmp_path):
    # three windows of the tiny model, two channels at 44.1 kHz: the layer is crossfaded across windows and
    # mixed into both channels; what was there stays under it
    rate, seconds = 44100, 3.0
    t = np.arange(int(rate * seconds)) / rate
    wav = np.stack([0.1 * np.sin(2 * np.pi * 440 * t), 0.05 * np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "long.wav"
    sf.write(str(path), wav.astype("float32"), rate, subtype="FLOAT")
    result = layer_edit(path, tiny_model_dir, tmp_path / "out", "addition", "--added_prompt=a dog barks")
    out, out_rate = sf.read(result.folder / "edit_gain0.50.wav", dtype="float32")
    assert out_rate == rate and out.shape == wav.shape
    layer = out - wav
    assert np.isfinite(out).all()
    assert np.sqrt(np.mean(layer ** 2)) / np.sqrt(np.mean(wav ** 2)) == pytest.approx(0.5, rel=0.05)


def test_the_api_edits_with_layer_gains_and_refuses_etas(tiny_model_dir, quiet_clip):
    from audio_editing.api import Editor

    editor = Editor.from_hparams("hparams/addition.yaml", run_opts={"device": "cpu", "noprogressbar": True},
                                 overrides={"backbone_source": str(tiny_model_dir), "sample_steps": 3,
                                            "method": "layer"})
    fit = editor.fit(quiet_clip)
    edit = editor.edit(fit, "a dog barks while a siren wails", layer_gains=[0.5, 1.0])
    assert edit.sweep == "gain" and edit.etas == [0.5, 1.0] and edit.wavs.shape[0] == 2
    with pytest.raises(UserError, match="pass layer_gains"):
        editor.edit(fit, "a dog barks", etas=[0, 1])
    with pytest.raises(UserError, match="--emb_steps is not read by --method=layer"):  # silently ignored before
        editor.fit(quiet_clip, emb_steps=3)
