"""The three steps on a tiny random model: losses fall, LoRA stays LoRA, runs resume, overrides land."""

import json
import math

import soundfile as sf
import pytest
import torch

from audio_editing.editing.imagic import ImagicEditor
from audio_editing.recipe import run_edit
from audio_editing.editing.edit_types import editor_class
from tests.conftest import assert_span_filled, tiny_args


def inpainting_editor():
    """The editor class recipes/inpainting/edit.py defines (loaded as the batch evaluation loads it)."""
    return editor_class("inpainting")


def edit(clip, model_dir, out_dir, *extra, editor=ImagicEditor, hparams="hparams/addition.yaml"):
    return run_edit(editor, [hparams, f"--input_wav={clip}", "--target_prompt=a dog barks",
                             *tiny_args(model_dir, out_dir, *extra)])


def test_embedding_then_finetuning_lower_the_reconstruction_loss(clip, tiny_model_dir, tmp_path):
    result = edit(clip, tiny_model_dir, tmp_path, "--emb_steps=30", "--ft_steps=30",
                  "--emb_lr=0.05", "--ft_lr=0.002")
    evals = result.losses["eval"]
    assert evals["e_opt"] < evals["e_target"], evals
    assert evals["finetuned"] < 0.9 * evals["e_opt"], evals
    assert len(result.losses["embedding"]) == 30 and len(result.losses["finetune"]) == 30


def test_outputs_of_one_edit(clip, tiny_model_dir, tmp_path):
    result = edit(clip, tiny_model_dir, tmp_path)
    folder = result.folder
    for name in ("input.wav", "edit_eta0.00.wav", "edit_eta1.00.wav", "best.wav", "scores.csv",
                 "spectrograms.png", "clap_vs_eta.png", "train_log.txt", "hyperparams.yaml"):
        assert (folder / name).is_file(), name
    header = (folder / "scores.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["eta", "text_clap", "audio_clap", "sum"]
    best_eta = result.etas[result.best_index]
    best, _ = sf.read(folder / "best.wav", dtype="int16")
    same, _ = sf.read(folder / f"edit_eta{best_eta:.2f}.wav", dtype="int16")
    assert (best == same).all()
    assert len(best) == sf.info(str(clip)).frames


def test_lora_trains_and_saves_only_the_adapter(clip, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    result = edit(clip, tiny_model_dir, tmp_path, "--ft_mode=lora", "--lora_rank=2", "--ft_lr=0.01",
                  "--ckpt_min_minutes=0")
    ckpt = next((result.folder / "save").glob("CKPT*"))
    state = torch.load(ckpt / "unet.ckpt")
    assert state and all("lora" in key for key in state), list(state)[:5]
    assert any(v.abs().sum() > 0 for k, v in state.items() if "lora_B" in k)  # B starts at 0: it trained
    # the base weights on disk are untouched by construction; the adapter is all that was saved
    base = load_file(str(tiny_model_dir / "unet" / "diffusion_pytorch_model.safetensors"))
    assert not set(state) & set(base)


def test_run_killed_after_step_1_resumes_without_repeating_it(clip, tiny_model_dir, tmp_path, monkeypatch):
    original = ImagicEditor.run_phase

    def die_in_finetune(self, phase, *args):
        if phase == "finetune":
            raise KeyboardInterrupt("killed")
        return original(self, phase, *args)

    monkeypatch.setattr(ImagicEditor, "run_phase", die_in_finetune)
    with pytest.raises(KeyboardInterrupt):
        edit(clip, tiny_model_dir, tmp_path, "--emb_steps=6")
    monkeypatch.setattr(ImagicEditor, "run_phase", original)

    calls = []
    monkeypatch.setattr(ImagicEditor, "fit_batch",
                        lambda self, batch: calls.append(1) or original_fit(self, batch))
    result = edit(clip, tiny_model_dir, tmp_path, "--emb_steps=6")
    assert result.resumed_from == "finetune step 0"
    assert len(calls) == 4  # only the 4 fine-tuning steps ran again
    assert len(result.losses["embedding"]) == 6
    assert "resumed_from: finetune step 0" in (result.folder / "train_log.txt").read_text()


original_fit = ImagicEditor.fit_batch


def counting_fit_batch(monkeypatch):
    """The list that gets one item per optimisation step (of step 1 or 2) from now on."""
    calls = []
    monkeypatch.setattr(ImagicEditor, "fit_batch", lambda self, batch: calls.append(1) or original_fit(self, batch))
    return calls


def test_rerun_with_other_sampling_settings_samples_only(clip, tiny_model_dir, tmp_path, monkeypatch):
    first = edit(clip, tiny_model_dir, tmp_path, "--ckpt_min_minutes=60")
    folder = first.folder
    calls = counting_fit_batch(monkeypatch)
    rerun = edit(clip, tiny_model_dir, tmp_path, "--ckpt_min_minutes=60", "--etas=[0.5,1.2]", "--sample_steps=3",
                 "--guidance_scale=2", "--eta_selection=max_sum")
    assert not calls and rerun.resumed_from == "done"  # steps 1-2 came from the checkpoint
    assert rerun.losses["embedding"] == first.losses["embedding"]
    assert "steps 1-2 loaded from" in (folder / "log.txt").read_text()
    # the outputs are this run's: its etas only, scored and chosen by its rule
    assert sorted(p.name for p in folder.glob("edit_*.wav")) == ["edit_eta0.50.wav", "edit_eta1.20.wav"]
    assert [row.split(",")[0] for row in (folder / "scores.csv").read_text().splitlines()[1:]] == ["0.5", "1.2"]
    assert "guidance_scale: 2" in (folder / "hyperparams.yaml").read_text()
    # and they are sampled from the same fit: the first settings again give the first outputs, to the bit
    again = edit(clip, tiny_model_dir, tmp_path, "--ckpt_min_minutes=60")
    assert not calls and torch.equal(again.outputs, first.outputs)


@pytest.mark.parametrize("change", ["--emb_steps=5", "--seed=7"])
def test_rerun_with_another_fit_setting_fits_again(clip, tiny_model_dir, tmp_path, monkeypatch, change):
    first = edit(clip, tiny_model_dir, tmp_path)
    calls = counting_fit_batch(monkeypatch)
    rerun = edit(clip, tiny_model_dir, tmp_path, change)
    steps = 5 if change == "--emb_steps=5" else 4
    assert len(calls) == steps + 4 and rerun.resumed_from is None
    assert len(rerun.losses["embedding"]) == steps
    key, value = change[2:].split("=")
    log = (rerun.folder / "log.txt").read_text()
    assert f"fit settings changed ({key} " in log and f" -> {value}): steps 1-2 run again" in log
    assert json.loads((rerun.folder / "edit.json").read_text())[key] == int(value)
    assert not torch.equal(rerun.outputs, first.outputs)


def test_inpainting_rerun_with_another_span_fits_again(gap_clip, tiny_model_dir, tmp_path, monkeypatch):
    edit(gap_clip, tiny_model_dir, tmp_path, editor=inpainting_editor(), hparams="hparams/inpainting.yaml")
    calls = counting_fit_batch(monkeypatch)
    edit(gap_clip, tiny_model_dir, tmp_path, "--mask_start=0.5", "--mask_end=0.7", editor=inpainting_editor(),
         hparams="hparams/inpainting.yaml")
    assert len(calls) == 8  # the loss ignores another span: steps 1-2 again


def test_hparams_override_reaches_the_brain(clip, tiny_model_dir, tmp_path):
    result = edit(clip, tiny_model_dir, tmp_path, "--emb_steps=3", "--guidance_scale=1.5")
    assert len(result.losses["embedding"]) == 3
    saved = (result.folder / "hyperparams.yaml").read_text()
    assert "emb_steps: 3" in saved and "guidance_scale: 1.5" in saved


def test_inpainting_leaves_every_observed_sample_bit_identical(gap_clip, tiny_model_dir, tmp_path):
    result = edit(gap_clip, tiny_model_dir, tmp_path, editor=inpainting_editor(),
                  hparams="hparams/inpainting.yaml")
    original, _ = sf.read(gap_clip, dtype="int16")
    start, end = round(0.5 * 16000), round(0.8 * 16000)
    for eta in result.etas:
        out, _ = sf.read(result.folder / f"edit_eta{eta:.2f}.wav", dtype="int16")
        assert len(out) == len(original)
        assert (out[:start] == original[:start]).all() and (out[end:] == original[end:]).all()
        assert_span_filled(out, original, start, end)


def test_renoise_brings_a_latent_to_the_later_step_s_noise_level():
    """q(z_to | z_from): a latent at t_from's level of a clean latent x0 comes out at t_to's level of x0."""
    from diffusers import DDIMScheduler

    from audio_editing.editing.inversion import renoise

    sampler = DDIMScheduler(num_train_timesteps=1000)
    x0 = torch.full((20000, 1), 0.8)
    t_from, t_to = 200, 600
    a_from, a_to = sampler.alphas_cumprod[t_from], sampler.alphas_cumprod[t_to]
    z = a_from.sqrt() * x0 + (1 - a_from).sqrt() * torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    z = renoise(sampler, z, t_from, t_to, torch.Generator().manual_seed(2))
    assert abs(z.mean().item() - (a_to.sqrt() * 0.8).item()) < 0.02
    assert abs(z.var().item() - (1 - a_to).item()) < 0.03
    assert abs(z.var().item() - (1 - a_from).item()) > 0.3  # it moved


@pytest.mark.parametrize("method, sweep", [("imagic", "--etas=[0,1]"), ("sdedit", "--strengths=[1.0]")])
def test_inpainting_with_resampling_keeps_the_observed_samples_and_changes_the_fill(gap_clip, tiny_model_dir,
                                                                                   tmp_path, method, sweep):
    args = (f"--method={method}", sweep, "--free_eta0_check=False")
    plain = edit(gap_clip, tiny_model_dir, tmp_path / "plain", *args, editor=inpainting_editor(),
                 hparams="hparams/inpainting.yaml")
    resampled = edit(gap_clip, tiny_model_dir, tmp_path / "resampled", *args, "--resample_jumps=3",
                     editor=inpainting_editor(), hparams="hparams/inpainting.yaml")
    assert resampled.sweep == ("eta" if method == "imagic" else "strength")
    original, _ = sf.read(gap_clip, dtype="int16")
    start, end = round(0.5 * 16000), round(0.8 * 16000)
    for value in resampled.etas:
        out, _ = sf.read(resampled.folder / f"edit_{resampled.sweep}{value:.2f}.wav", dtype="int16")
        assert (out[:start] == original[:start]).all() and (out[end:] == original[end:]).all()
        assert_span_filled(out, original, start, end)
    assert (plain.wavs - resampled.wavs).abs().max() > 1e-3  # the span was generated otherwise


@pytest.mark.parametrize("override, message", [("--resample_jumps=0", "whole number"),
                                               ("--resample_jumps=1.5", "whole number")])
def test_a_bad_resample_count_is_refused_before_writing(gap_clip, tiny_model_dir, tmp_path, override, message):
    from audio_editing.errors import UserError

    with pytest.raises(UserError, match=message):
        edit(gap_clip, tiny_model_dir, tmp_path / "out", override, editor=inpainting_editor(),
             hparams="hparams/inpainting.yaml")
    assert not (tmp_path / "out").exists()


def test_resampling_needs_a_ddim_sampler():
    import functools

    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    from audio_editing.editing.checks import check_sampling
    from audio_editing.errors import UserError

    base = {"sample_start": "noise", "inversion_strength": 1.0, "inversion_source": "e_opt", "attention_injection": 0.0}
    check_sampling({**base, "resample_jumps": 3, "sampler": DDIMScheduler.from_config})  # as hparams' !name: gives it
    with_arguments = functools.partial(DDIMScheduler.from_config, timestep_spacing="leading")
    check_sampling({**base, "resample_jumps": 3, "sampler": with_arguments})
    check_sampling({**base, "resample_jumps": 1, "sampler": functools.partial(DPMSolverMultistepScheduler.from_config)})
    with pytest.raises(UserError, match="DDIM"):
        check_sampling({**base, "resample_jumps": 3,
                        "sampler": functools.partial(DPMSolverMultistepScheduler.from_config)})


@pytest.mark.parametrize("minutes, saves", [(0, ["embedding", "finetune", "finetune", "done"]),
                                             (60, ["finetune", "done"])])
def test_the_end_of_each_step_is_checkpointed_whatever_the_interval(clip, tiny_model_dir, tmp_path, monkeypatch,
                                                                     minutes, saves):
    """``ckpt_min_minutes=0`` saves at every interval and at the end of each step; a long interval
    only at the ends. The last checkpoint holds the fine-tuned UNet and no optimiser state."""
    import yaml

    phases, original_save = [], ImagicEditor.save_checkpoint
    monkeypatch.setattr(ImagicEditor, "save_checkpoint",
                        lambda self: phases.append(self.progress.phase) or original_save(self))
    result = edit(clip, tiny_model_dir, tmp_path, "--ckpt_interval_steps=2", f"--ckpt_min_minutes={minutes}")
    assert phases == saves  # the phase a checkpoint resumes in: after step 1 ends it is "finetune"
    (ckpt,) = (result.folder / "save").glob("CKPT*")
    assert yaml.safe_load((ckpt / "CKPT.yaml").read_text())["phase"] == "done"
    assert torch.load(ckpt / "unet.ckpt")  # the full fine-tune
    assert torch.load(ckpt / "ft_optimizer.ckpt") == {} and torch.load(ckpt / "emb_optimizer.ckpt") == {}


@pytest.mark.slow
def test_compiled_unet_edits_like_the_eager_one(clip, tiny_model_dir, tmp_path):
    eager = edit(clip, tiny_model_dir, tmp_path / "eager", "--ft_mode=lora", "--lora_rank=2")
    compiled = edit(clip, tiny_model_dir, tmp_path / "compiled", "--ft_mode=lora", "--lora_rank=2", "--compile",
                    "--compile_backend=aot_eager")  # dynamo and autograd tracing, no C++ build: CI-sized
    assert compiled.metrics["unet_compiled"] and not eager.metrics["unet_compiled"]
    assert torch.allclose(compiled.latents, eager.latents, atol=1e-6), (compiled.latents - eager.latents).abs().max()


def test_lora_targets_choose_the_adapted_modules(clip, tiny_model_dir, tmp_path):
    result = edit(clip, tiny_model_dir, tmp_path, "--ft_mode=lora", "--lora_rank=2", "--ft_lr=0.01",
                  "--lora_targets=[to_q,conv1]", "--ckpt_min_minutes=0")
    state = torch.load(next((result.folder / "save").glob("CKPT*")) / "unet.ckpt")
    adapted = {key.split(".lora_")[0].rsplit(".", 1)[-1] for key in state}
    assert adapted == {"to_q", "conv1"}, adapted


@pytest.mark.slow
def test_inpainting_reports_the_free_eta0_reconstruction_of_the_observed_audio(gap_clip, tiny_model_dir, tmp_path):
    result = edit(gap_clip, tiny_model_dir, tmp_path, editor=inpainting_editor(),
                  hparams="hparams/inpainting.yaml")
    free, vae = result.metrics["eta0_free_mel_snr_observed"], result.metrics["vae_mel_snr_observed"]
    span_held = result.metrics["eta0_span_held_mel_snr_observed"]
    assert math.isfinite(free) and math.isfinite(vae) and math.isfinite(span_held)
    assert free != vae  # the free sample is not held to the input's latent frames
    assert span_held not in (free, vae)  # the span is held, the observed frames are generated
    no_check = edit(gap_clip, tiny_model_dir, tmp_path / "off", "--free_eta0_check=False",
                    editor=inpainting_editor(), hparams="hparams/inpainting.yaml")
    assert "eta0_free_mel_snr_observed" not in no_check.metrics
    assert "eta0_span_held_mel_snr_observed" not in no_check.metrics
    torch.testing.assert_close(no_check.wavs, result.wavs)  # the check does not change the edits


def test_observed_mel_snr_sees_only_the_frames_outside_the_span():
    from types import SimpleNamespace

    from audio_editing.backbones.mel import LogMel

    editor_class = inpainting_editor()
    wav = torch.randn(16000, generator=torch.Generator().manual_seed(0)) * 0.1
    editor = SimpleNamespace(modules=SimpleNamespace(backbone=SimpleNamespace(logmel=LogMel())), span=(0.5, 0.8),
                             input_wav=wav, device="cpu")
    editor.observed_frames = lambda frames: editor_class.observed_frames(editor, frames)
    inside, outside = wav.clone(), wav.clone()
    inside[8000:12800] = torch.randn(4800) * 0.5  # the span itself
    outside[1600:3200] += torch.randn(1600) * 0.1  # 0.1-0.2 s, observed
    unchanged = editor_class.observed_mel_snr(editor, inside)
    changed = editor_class.observed_mel_snr(editor, outside)
    assert unchanged > 60 and changed < 30


def test_the_loss_batch_gradient_of_the_embedding_is_the_same_every_time():
    """One window drawn 16 times (a clip shorter than the window): the embedding's gradient sums the
    16 draws, and two runs of one seed must sum them in the same order (x[windows] did not, on 2 threads)."""
    from types import SimpleNamespace

    from audio_editing.backbones.base import TextCond

    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(0)
    editor = SimpleNamespace(z0=torch.zeros(1, 8, 64, 16), device="cpu")
    hidden = torch.randn(1, 33, 384, generator=generator).requires_grad_(True)
    upstream = torch.randn(16, 33, 384, generator=generator)
    grads = set()
    for _ in range(10):
        hidden.grad = None
        batch = ImagicEditor.draws(editor, TextCond(hidden, torch.ones(1, 33)), torch.zeros(16, dtype=torch.long),
                                   torch.zeros(16, dtype=torch.long), torch.Generator().manual_seed(1))
        (batch.cond.hidden * upstream).sum().backward()
        grads.add(hidden.grad.numpy().tobytes())
    assert len(grads) == 1
