"""Addition's composed guidance (``added_guidance``): the sound the input lacks guided in beside each eta's
embedding in step 3 from noise, with no weight at eta=0, from the same fit; and the settings it refuses."""

import pytest
import torch

from audio_editing.editing.edit_types import editor_class
from audio_editing.editing.methods import check_read_by
from audio_editing.errors import UserError
from audio_editing.recipe import run_edit
from tests.conftest import tiny_args

PROMPT = "a dog barks while a siren wails"


def add(clip, model_dir, out_dir, *extra):
    return run_edit(editor_class("addition"), ["hparams/addition.yaml", f"--input_wav={clip}",
                                               f"--target_prompt={PROMPT}",
                                               *tiny_args(model_dir, out_dir, "--etas=[0,1]", *extra)])


@pytest.mark.slow
def test_the_added_sound_changes_the_edits_but_not_eta_0_and_reuses_the_fit(clip, tiny_model_dir, tmp_path):
    off = add(clip, tiny_model_dir, tmp_path, "--added_guidance=0")
    on = add(clip, tiny_model_dir, tmp_path, "--added_guidance=0.5")  # the same folder: sampling only
    assert on.resumed_from is not None  # steps 1-2 not run again: added_guidance is read by step 3 alone
    assert "added_prompt" not in off.metrics
    assert on.metrics["added_prompt"] in PROMPT.split(" while ")
    # eta=0 carries no added guidance: the same sample, up to the batch's arithmetic
    assert torch.allclose(on.latents[0].float(), off.latents[0].float(), atol=1e-4)
    assert (on.latents[1].float() - off.latents[1].float()).pow(2).mean() > 1e-6
    named = add(clip, tiny_model_dir, tmp_path / "named", "--added_guidance=0.5", "--added_prompt=a phone rings")
    assert named.metrics["added_prompt"] == "a phone rings"
    from_input = add(clip, tiny_model_dir, tmp_path, "--added_guidance=0.5", "--sample_start=ddpm_inversion")
    assert "added_prompt" not in from_input.metrics  # the starts from the input take no added guidance


@pytest.mark.parametrize("extra, message", [
    (["--added_guidance=-0.1"], "added_guidance must be a number >= 0"),
])
def test_bad_added_guidance_is_refused_in_one_line_before_writing(clip, tiny_model_dir, tmp_path, extra, message):
    with pytest.raises(UserError, match=message):
        add(clip, tiny_model_dir, tmp_path / "out", *extra)
    assert not (tmp_path / "out").exists()


def test_added_guidance_is_the_method_s_and_the_added_prompt_the_method_s_and_the_layer_s():
    for baseline in ("sdedit", "ddpm_inversion", "inversion_free"):
        with pytest.raises(UserError, match=f"--added_guidance is not read by --method={baseline}"):
            check_read_by(baseline, ["added_guidance"])
    with pytest.raises(UserError, match="--added_guidance is not read by --method=layer"):
        check_read_by("layer", ["added_guidance"])
    check_read_by("layer", ["added_prompt"])
    check_read_by("imagic", ["added_prompt", "added_guidance"])
