"""Where step 1 starts (``--init``): the target prompt (the paper), the empty prompt, or a description
of the input. The last two make steps 1-2 independent of the target prompt."""

import json

import pytest
import torch

from audio_editing.editing.imagic import ImagicEditor
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from tests.conftest import tiny_args


def edit(clip, model_dir, out_dir, prompt, *extra):
    return run_edit(ImagicEditor, ["hparams/addition.yaml", f"--input_wav={clip}", f"--target_prompt={prompt}",
                                   *tiny_args(model_dir, out_dir, *extra)])


def test_empty_start_fits_the_input_whatever_the_prompt(clip, tiny_model_dir, tmp_path):
    steps = ["--emb_steps=20", "--ft_steps=4"]
    dog = edit(clip, tiny_model_dir, tmp_path / "dog", "a dog barks", "--init=empty", *steps)
    siren = edit(clip, tiny_model_dir, tmp_path / "siren", "a siren wails far away", "--init=empty", *steps)
    evals = dog.losses["eval"]
    assert evals["e_opt"] < evals["e_init"], evals  # step 1 moved the empty prompt's embedding onto the input
    # the fit is the same for both prompts: eta=0 (e_opt alone) samples the same latent, eta=1 does not
    assert torch.equal(dog.latents[0], siren.latents[0])
    assert not torch.equal(dog.latents[1], siren.latents[1])
    # from the target prompt (the paper), the fit and so eta=0 depend on the prompt
    dog_t = edit(clip, tiny_model_dir, tmp_path / "dog_t", "a dog barks", *steps)
    siren_t = edit(clip, tiny_model_dir, tmp_path / "siren_t", "a siren wails far away", *steps)
    assert not torch.equal(dog_t.latents[0], siren_t.latents[0])
    assert "e_target" in dog_t.losses["eval"] and "e_init" not in dog_t.losses["eval"]


def test_source_start_is_a_fit_setting_and_the_default_keeps_old_folders_valid(clip, tiny_model_dir, tmp_path):
    default = edit(clip, tiny_model_dir, tmp_path / "default", "a dog barks")
    identity = json.loads((default.folder / "edit.json").read_text())
    assert "init" not in identity and "source_prompt" not in identity  # as edit folders made before --init
    source = edit(clip, tiny_model_dir, tmp_path / "source", "a dog barks", "--init=source",
                  "--source_prompt=a knock on a door")
    identity = json.loads((source.folder / "edit.json").read_text())
    assert identity["init"] == "source" and identity["source_prompt"] == "a knock on a door"
    # another description is another fit: steps 1-2 run again in the same folder
    again = edit(clip, tiny_model_dir, tmp_path / "source", "a dog barks", "--init=source",
                 "--source_prompt=footsteps")
    assert again.resumed_from is None and len(again.losses["embedding"]) == 4


@pytest.mark.parametrize("extra, message", [(["--init=noise"], "--init must be one of target, empty, source"),
                                            (["--init=source"], "--init=source needs --source_prompt"),
                                            (["--init=source", "--source_prompt= "], "needs --source_prompt")])
def test_bad_init_is_refused_before_writing(clip, tiny_model_dir, tmp_path, extra, message):
    with pytest.raises(UserError, match=message):
        edit(clip, tiny_model_dir, tmp_path / "out", "a dog barks", *extra)
    assert not (tmp_path / "out").exists()
