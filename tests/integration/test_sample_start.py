"""Step 3 anchored on the input (``--sample_start=ddpm_inversion`` or ``inversion_free``): eta=0 gives the input
latent back."""

from types import SimpleNamespace

import pytest
import torch

from audio_editing.backbones.base import TextCond
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.editing.sample_starts import inversion_condition
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from tests.conftest import tiny_args


def edit(clip, model_dir, out_dir, *extra):
    return run_edit(ImagicEditor, ["hparams/addition.yaml", f"--input_wav={clip}", "--target_prompt=a dog barks",
                                   *tiny_args(model_dir, out_dir, "--etas=[0,0.5,1]", *extra)])


@pytest.mark.parametrize("start", ["ddpm_inversion", "inversion_free"])
def test_inversion_start_returns_the_input_latent_at_eta_0_and_edits_above(clip, tiny_model_dir, tmp_path, start):
    result = edit(clip, tiny_model_dir, tmp_path, f"--sample_start={start}")
    latents, z0 = result.latents.float(), result.input_latent.float()
    assert torch.allclose(latents[0], z0, atol=1e-4), (latents[0] - z0).abs().max()
    drift = [(z - z0).pow(2).mean().item() for z in latents]
    assert drift[0] < 1e-8 < drift[2], drift  # e_target moves the content away from the input
    # from noise (the paper's start) eta=0 is a fresh sample, not the input
    noise_start = edit(clip, tiny_model_dir, tmp_path / "noise")
    assert (noise_start.latents[0].float() - z0).pow(2).mean() > 1e-4


@pytest.mark.parametrize("override, message", [("--sample_start=inverted", "sample_start"),
                                               ("--inversion_strength=1.5", "inversion_strength")])
def test_bad_sampling_start_is_refused_before_writing(clip, tiny_model_dir, tmp_path, override, message):
    with pytest.raises(UserError, match=message):
        edit(clip, tiny_model_dir, tmp_path / "out", override)
    assert not (tmp_path / "out").exists()


def test_style_transfer_default_fits_the_embedding_only_and_returns_the_input_at_eta_0(clip, tiny_model_dir,
                                                                                         tmp_path):
    """The style-transfer recipe's default on the embedded family: step 1, no step 2 (hparams
    backbone_schedule), step 3 from the input's DDPM noise maps."""
    args = [a for a in tiny_args(tiny_model_dir, tmp_path, "--etas=[0,1]") if not a.startswith("--ft_steps")]
    result = run_edit(ImagicEditor, ["hparams/style_transfer.yaml", f"--input_wav={clip}",
                                     "--target_prompt=a dog barks", *args])
    assert result.losses["steps"] == {"embedding": 4, "finetune": 0}
    assert "e_opt" in result.losses["eval"] and "finetuned" not in result.losses["eval"]
    unet_files = list((result.folder / "save").glob("CKPT*/unet.ckpt"))
    assert unet_files and all(torch.load(f) == {} for f in unet_files)  # the pretrained UNet is not copied
    latents, z0 = result.latents.float(), result.input_latent.float()
    assert torch.allclose(latents[0], z0, atol=1e-4), (latents[0] - z0).abs().max()
    assert (latents[1] - z0).pow(2).mean() > 1e-8


def test_several_inversion_strengths_keep_the_sweep_the_rule_prefers(clip, tiny_model_dir, tmp_path):
    """``--inversion_strength=[1.0,0.5]`` samples one eta sweep per strength from the same fit and keeps the
    one holding the value the selection rule prefers over both: the same outputs as the single-strength
    run of that strength, and a choice no single-strength run beats."""
    rule = ("--sample_start=ddpm_inversion", "--eta_selection=text_onset", "--onset_weight=0.3")
    both = edit(clip, tiny_model_dir, tmp_path / "both", *rule, "--inversion_strength=[1.0,0.5]")
    alone = {s: edit(clip, tiny_model_dir, tmp_path / f"s{s}", *rule, f"--inversion_strength={s}")
             for s in (1.0, 0.5)}
    kept = both.metrics["inversion_strength"]
    assert kept in alone
    assert torch.allclose(both.latents, alone[kept].latents, atol=1e-5)
    assert both.selection_key() == max(result.selection_key() for result in alone.values())
    assert "inversion_strength" not in alone[1.0].metrics  # one strength: nothing to report
    # the two strengths sample different edits (else the test could not tell them apart)
    assert (alone[1.0].latents[-1] - alone[0.5].latents[-1]).abs().max() > 1e-4


def test_a_bad_inversion_strength_list_is_refused_before_writing(clip, tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match=r"inversion_strength.*\[1.0,0.8\]"):
        edit(clip, tiny_model_dir, tmp_path / "out", "--inversion_strength=[1.0,0]")
    assert not (tmp_path / "out").exists()


def test_inverted_under_e_opt_eta_0_is_the_input_and_under_the_empty_prompt_it_is_not(clip, tiny_model_dir,
                                                                                      tmp_path):
    rule = ("--sample_start=ddpm_inversion",)
    runs = {s: edit(clip, tiny_model_dir, tmp_path / s, *rule, f"--inversion_source={s}") for s in ("e_opt", "empty")}
    z0 = runs["e_opt"].input_latent.float()
    assert torch.allclose(runs["e_opt"].latents[0].float(), z0, atol=1e-4)
    assert (runs["empty"].latents[0].float() - z0).abs().max() > 1e-4
    assert "inversion_source" not in runs["e_opt"].metrics


def test_the_inversion_conditions_are_e_opt_and_the_empty_prompt():
    e_opt = TextCond(torch.ones(1, 3, 4), torch.ones(1, 3, dtype=torch.long))
    backbone = SimpleNamespace(null_cond=lambda cond: TextCond(torch.zeros_like(cond.hidden), cond.mask))
    assert inversion_condition(backbone, "e_opt", e_opt) is e_opt
    assert inversion_condition(backbone, "empty", e_opt).hidden.abs().max() == 0


@pytest.mark.parametrize("source", ["target", "[e_opt,empty]", "0.5"])  # a list or a mix: measured, not adopted
def test_a_bad_inversion_source_is_refused_before_writing(clip, tiny_model_dir, tmp_path, source):
    with pytest.raises(UserError, match=r"--inversion_source must be one of e_opt, empty \(the condition"):
        edit(clip, tiny_model_dir, tmp_path / "out", f"--inversion_source={source}")
    assert not (tmp_path / "out").exists()


def test_attention_injection_keeps_eta_0_on_the_input_and_changes_the_edits(clip, tiny_model_dir, tmp_path):
    """``--attention_injection=0.5``: the first half of the regenerated steps attend with the self-attention
    maps of the input's own path. eta=0 (e_opt, which regenerates that path) still gives the input back, the
    edits above it change, and the UNet's own attention processors are back afterwards."""
    start = ("--sample_start=ddpm_inversion",)
    plain = edit(clip, tiny_model_dir, tmp_path / "plain", *start)
    injected = edit(clip, tiny_model_dir, tmp_path / "injected", *start, "--attention_injection=0.5")
    z0 = injected.input_latent.float()
    assert torch.allclose(injected.latents[0].float(), z0, atol=1e-4), (injected.latents[0].float() - z0).abs().max()
    assert (injected.latents[-1].float() - plain.latents[-1].float()).abs().max() > 1e-4


def test_self_attention_injection_restores_the_processors_and_replays_the_recorded_maps():
    from audio_editing.backbones.tango import TangoBackbone
    from audio_editing.editing.inversion import SelfAttentionInjection
    torch.manual_seed(0)
    backbone = TangoBackbone.build_tiny()
    unet, before = backbone.unet, dict(backbone.unet.attn_processors)
    z = backbone.encode_audio(torch.randn(1, 16000) * 0.1).repeat(2, 1, 1, 1)
    t, other_z = torch.full((2,), 500), torch.randn_like(z)
    cond = backbone.encode_text(["a dog barks", "rain falls"])
    with torch.no_grad(), SelfAttentionInjection(unet) as control:
        assert any(type(p).__name__ == "_InjectingProcessor" for p in unet.attn_processors.values())
        own = backbone.predict(z, t, cond)
        control.mode = "record"
        backbone.predict(z, t, cond)
        control.mode = "inject"
        replayed = backbone.predict(z, t, cond)  # its own maps: the same output
        other = backbone.predict(other_z, t, cond)  # another latent attending with the recorded maps
        control.mode = None
        free = backbone.predict(other_z, t, cond)
    assert torch.allclose(own, replayed, atol=1e-5)
    assert not torch.allclose(other, free, atol=1e-4)
    assert {k: type(v) for k, v in unet.attn_processors.items()} == {k: type(v) for k, v in before.items()}


def test_a_bad_attention_injection_is_refused_before_writing(clip, tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match="attention_injection"):
        edit(clip, tiny_model_dir, tmp_path / "out", "--attention_injection=2")
    assert not (tmp_path / "out").exists()
