"""hparams composition: a recipe's backbone_schedule changes its backbone's defaults; the command line beats it."""

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
    with pytest.raises(UserError, match="backbone_schedule sets 'ft_stepz'"):
        load_hparams(recipe, {})
