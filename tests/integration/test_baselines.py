"""The baselines (SDEdit, DDPM inversion, inversion-free editing) on a tiny random model: their limits, and the method's outputs."""

import csv

import pytest
import soundfile as sf
import torch
from diffusers import DDIMScheduler

from audio_editing.backbones.base import TextCond
from audio_editing.data.audio import load_audio
from audio_editing.editing.baselines import BASELINES, ddpm_inversion, inversion_free, sdedit
from audio_editing.editing.inversion import inversion_free_rows
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from audio_editing.evaluation.batch import method_editor
from audio_editing.toy_world.model import ToyBackbone
from tests.conftest import assert_span_filled, tiny_args


@pytest.fixture(scope="module")
def backbone():
    return ToyBackbone.build_tiny(seed=0)


@pytest.fixture
def input_latent(backbone, clip):
    wav = load_audio(clip, backbone.sample_rate)
    with torch.no_grad():
        return backbone.encode_audio(0.9 * wav[None] / wav.abs().max())


def relative_error(latents, z0):
    return [((z - z0[0]).pow(2).mean() / z0.pow(2).mean()).item() for z in latents]


@torch.no_grad()
def test_sdedit_returns_the_input_latent_at_zero_strength_and_drifts_as_strength_grows(backbone, input_latent):
    z0 = input_latent
    latents = sdedit(backbone, lambda: DDIMScheduler.from_config(backbone.scheduler.config), z0, torch.randn_like(z0),
                     backbone.encode_text(["a dog barks"]), [0.0, 0.1, 0.5, 1.0], steps=10, guidance_scale=3.0)
    errors = relative_error(latents, z0)
    assert torch.equal(latents[0], z0[0])
    assert errors[1] < 0.05, errors  # one step from the least noisy level: nearly the input
    assert errors[1] < errors[2] < errors[3], errors


@torch.no_grad()
def test_ddpm_inversion_regenerating_with_the_inversion_prompt_gives_the_input_latent_back(backbone, input_latent):
    z0 = input_latent
    prompt = backbone.encode_text(["a dog barks"])
    latents = ddpm_inversion(backbone, z0, prompt, prompt, [0.3, 1.0], steps=10, guidance_scale=3.0,
                             generator=torch.Generator().manual_seed(0))
    assert (latents - z0).abs().max() < 1e-4  # float error only (the latent's values are ~0.1)
    # another prompt edits: the inversion's noise maps do not simply copy the input
    edited = ddpm_inversion(backbone, z0, prompt, backbone.encode_text(["a siren wails"]), [0.0, 1.0], steps=10,
                            guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(edited[0], z0[0])
    assert relative_error(edited, z0)[1] > 0.01


@torch.no_grad()
def test_inversion_free_moves_only_by_the_difference_of_the_two_conditions(backbone, input_latent):
    z0 = input_latent
    prompt, other = backbone.encode_text(["a dog barks"]), backbone.encode_text(["a siren wails"])
    same = inversion_free(backbone, z0, prompt, prompt, [0.5, 1.0], steps=10, guidance_scale=3.0,
                          generator=torch.Generator().manual_seed(0))
    assert (same - z0).abs().max() < 1e-5  # equal conditions cancel at every step: the input, whatever the noise
    edited = inversion_free(backbone, z0, backbone.null_cond(prompt), other, [0.0, 0.3, 1.0], steps=10,
                            guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
    errors = relative_error(edited, z0)
    assert torch.equal(edited[0], z0[0])
    assert 0 < errors[1] < errors[2], errors


@torch.no_grad()
def test_inversion_free_rows_in_one_batch_equal_each_row_edited_alone_from_the_same_seed(backbone, input_latent):
    z0 = input_latent
    source = backbone.encode_text(["a dog barks"])
    targets = TextCond.cat([source.lerp(backbone.encode_text(["a siren wails"]), eta) for eta in (0.0, 0.7, 1.2)])
    scales = torch.tensor([1.0, 2.5, 3.0]).view(-1, 1, 1, 1)
    batched = inversion_free_rows(backbone, z0, source, targets, 0.8, 10, scales, torch.Generator().manual_seed(3))
    alone = torch.cat([inversion_free_rows(backbone, z0, source, targets.map(lambda x: x[i: i + 1]), 0.8, 10,
                                           float(scales[i]), torch.Generator().manual_seed(3)) for i in range(3)])
    assert batched.shape == alone.shape == (3, *z0.shape[1:])
    assert (batched - alone).abs().max() < 1e-5
    assert (batched[0] - z0[0]).abs().max() < 1e-5  # the source itself: the input back
    assert relative_error(batched, z0)[2] > 1e-4  # the others moved


def baseline_edit(method, clip, model_dir, out_dir, edit_type="addition", *extra):
    editor = method_editor(method, {"edit_type": edit_type})
    return run_edit(editor, [f"hparams/{edit_type}.yaml", f"--input_wav={clip}", "--target_prompt=a dog barks",
                             *tiny_args(model_dir, out_dir, f"--method={method}", "--strengths=[0,0.5,1]", *extra)])


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_baseline_writes_the_methods_outputs(method, clip, tiny_model_dir, tmp_path):
    result = baseline_edit(method, clip, tiny_model_dir, tmp_path)
    folder = result.folder
    assert result.sweep == "strength" and result.etas == [0.0, 0.5, 1.0]
    for name in ("input.wav", "edit_strength0.00.wav", "edit_strength0.50.wav", "edit_strength1.00.wav", "best.wav",
                 "scores.csv", "spectrograms.png", "clap_vs_eta.png", "train_log.txt", "hyperparams.yaml"):
        assert (folder / name).is_file(), name
    with open(folder / "scores.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0])[:4] == ["strength", "text_clap", "audio_clap", "sum"] and "onset_f1" in table[0]
    assert [int(row["best"]) for row in table].index(1) == result.best_index
    best, _ = sf.read(folder / "best.wav", dtype="int16")
    same, _ = sf.read(folder / f"edit_strength{result.etas[result.best_index]:.2f}.wav", dtype="int16")
    assert (best == same).all() and len(best) == sf.info(str(clip)).frames


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_baseline_inpainting_keeps_every_observed_sample(method, gap_clip, tiny_model_dir, tmp_path):
    result = baseline_edit(method, gap_clip, tiny_model_dir, tmp_path, "inpainting",
                           "--mask_start=0.5", "--mask_end=0.8")
    original, _ = sf.read(gap_clip, dtype="int16")
    start, end = round(0.5 * 16000), round(0.8 * 16000)
    for strength in (0.5, 1.0):
        out, _ = sf.read(result.folder / f"edit_strength{strength:.2f}.wav", dtype="int16")
        assert (out[:start] == original[:start]).all() and (out[end:] == original[end:]).all()
        assert_span_filled(out, original, start, end)
    assert len(result.scores["text_clap_span"]) == 3 and result.metrics["span_seconds"] == (0.5, 0.8)


def test_strengths_outside_zero_one_are_refused_before_writing(clip, tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match="strengths"):
        baseline_edit("sdedit", clip, tiny_model_dir, tmp_path, "addition", "--strengths=[0.5,1.5]")
    assert not (tmp_path / clip.stem).exists()


def test_the_api_reads_a_baselines_strengths_at_each_edit(tiny_model_dir, clip):
    from audio_editing.api import Editor

    editor = Editor.from_hparams("hparams/style_transfer.yaml",
                                 run_opts={"device": "cpu", "noprogressbar": True},
                                 overrides={"backbone_source": str(tiny_model_dir), "method": "sdedit",
                                            "sample_steps": 3, "strengths": [0.5, 1.0]})
    fit = editor.fit(clip, target_prompt="a dog barks")
    assert editor.edit(fit, "a dog barks").etas == [0.5, 1.0]
    edit = editor.edit(fit, "a dog barks", strengths=[0.2, 0.4, 0.6])
    assert edit.sweep == "strength" and edit.etas == [0.2, 0.4, 0.6] and edit.wavs.shape[0] == 3
    with pytest.raises(UserError, match="strengths"):
        editor.edit(fit, "a dog barks", strengths=[1.5])
