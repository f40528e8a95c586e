"""hparams composition: a recipe's backbone_schedule changes its backbone's defaults, a preset changes both; the
command line beats them."""

import pytest

from audio_editing.cli import load_hparams
from audio_editing.errors import UserError

BACKBONE = "ft_steps: 100\nemb_steps: 100\n"
RECIPE = "backbone: small\nbackbone_schedule:\n    small: {ft_steps: 150}\n    other: {emb_steps: 7}\nseed: 1\n"


@pytest.fixture
def recipe(tmp_path):
    (tmp_path / "backbones").mkdir()
    (tmp_path / "backbones" / "small.yaml").write_text(BACKBONE)
    (tmp_path / "backbones" / "other.yaml").write_text(BACKBONE)
    path = tmp_path / "edit.yaml"
    path.write_text(RECIPE)
    return path


def test_backbone_schedule_applies_to_its_backbone_only(recipe):
    hparams, resolved = load_hparams(recipe, {})
    assert (hparams["ft_steps"], hparams["emb_steps"]) == (150, 100)
    assert "ft_steps: 150" in resolved  # the saved hparams record it
    other, _ = load_hparams(recipe, {"backbone": "other"})
    assert (other["ft_steps"], other["emb_steps"]) == (100, 7)


def test_the_command_line_beats_backbone_schedule(recipe):
    hparams, _ = load_hparams(recipe, {"ft_steps": 3})
    assert hparams["ft_steps"] == 3


def test_backbone_schedule_with_a_key_the_backbone_lacks_is_a_clear_error(recipe):
    recipe.write_text(RECIPE.replace("small: {ft_steps: 150}", "small: {ft_stepz: 150}"))
    with pytest.raises(UserError, match="backbone_schedule or preset sets 'ft_stepz'"):
        load_hparams(recipe, {})


def test_a_preset_applies_over_the_schedule_and_the_command_line_beats_it(recipe):
    (recipe.parent / "presets").mkdir()
    (recipe.parent / "presets" / "paper.yaml").write_text("ft_steps: 1500\nemb_steps: 500\nother_type_key: 0\n")
    recipe.write_text(RECIPE + "preset: null\n")
    hparams, resolved = load_hparams(recipe, {"preset": "paper"})
    assert (hparams["ft_steps"], hparams["emb_steps"]) == (1500, 500) and "ft_steps: 1500" in resolved
    assert "other_type_key" not in hparams  # a preset's setting the recipe lacks is another edit type's
    hparams, _ = load_hparams(recipe, {"preset": "paper", "emb_steps": 5})
    assert (hparams["ft_steps"], hparams["emb_steps"]) == (1500, 5)
    assert load_hparams(recipe, {})[0]["ft_steps"] == 150  # no preset: the file's own
    with pytest.raises(UserError, match=r"unknown --preset=papr; choose one of paper \(files in"):
        load_hparams(recipe, {"preset": "papr"})


def test_the_shipped_paper_preset_is_the_paper_s_configuration_on_every_recipe():
    from audio_editing.api import Editor
    from tests.conftest import REPO

    for recipe in ("addition", "style_transfer", "inpainting", "removal"):
        hparams, _ = load_hparams(REPO / "hparams" / f"{recipe}.yaml", {
            "preset": "paper", "input_wav": "x.wav", "target_prompt": "a dog barks", "edit_id": "x"})
        assert (hparams["emb_steps"], hparams["emb_lr"], hparams["ft_steps"], hparams["ft_lr"]) == (500, 0.002, 1500, 1e-6)
        assert (hparams["sample_steps"], hparams["guidance_scale"], hparams["loss_batch"]) == (200, 3.0, 1)
        assert (hparams["init"], hparams["sample_start"], hparams["eta_selection"]) == ("target", "noise", "max_sum")
        assert hparams["ft_mode"] == "full" and hparams["keep_background"] is False
        assert hparams.get("added_guidance", 0.0) == 0.0  # addition: no composed guidance
    with pytest.raises(UserError, match="--preset is not read by --method=sdedit"):
        Editor.from_hparams(REPO / "hparams" / "addition.yaml", {"preset": "paper", "method": "sdedit"})


def test_hparams_lacking_a_setting_the_method_reads_are_refused_in_one_line(tmp_path, tiny_model_dir):
    """Each default lives in the hparams files; the code declares what it reads (``HPARAMS_NEEDED``) and falls
    back on nothing: a recipe file without one of them is refused, naming it."""
    import shutil

    from audio_editing.api import Editor
    from audio_editing.editing.editors import InpaintingEditor
    from audio_editing.editing.imagic import ImagicEditor, hparams_needed
    from tests.conftest import REPO

    assert "resample_jumps" in hparams_needed(InpaintingEditor) and "resample_jumps" not in hparams_needed(ImagicEditor)
    shutil.copytree(REPO / "hparams", tmp_path / "hparams")
    recipe = tmp_path / "hparams" / "addition.yaml"
    recipe.write_text("".join(line for line in recipe.read_text().splitlines(keepends=True)
                              if not line.startswith("keep_background:")))
    with pytest.raises(UserError, match=r"^the hparams lack keep_background, read by --method=imagic; add them"):
        Editor.from_hparams(recipe, {"backbone_source": str(tiny_model_dir)})
    Editor.from_hparams(tmp_path / "hparams" / "style_transfer.yaml", {"backbone_source": str(tiny_model_dir)})
