"""Stable Audio Open against diffusers' ``StableAudioPipeline``, from a tiny random pipeline saved in the published
layout (model_index.json, vae/, transformer/, projection_model/, text_encoder/, tokenizer/, scheduler/).

The backbone's VAE round trip, its conditioning and its step-3 sampling (eta = 1, no fit) equal the pipeline's
to float tolerance; an edit runs end to end in stereo at 44.1 kHz through a recipe; a missing model offline is
one line naming it.
"""

import uuid

import numpy as np
import pytest
import soundfile as sf
import torch

from audio_editing.backbones.base import TextCond
from audio_editing.backbones.stable_audio import HUB_ID, SAMPLER_KEY, StableAudioBackbone, grid_times, model_sampler
from audio_editing.data.audio import AudioClip
from audio_editing.editing.baselines import ddpm_inversion, sdedit
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.editing.inversion import inversion_free
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from tests.conftest import tiny_args, tiny_clap

PROMPTS = ["a dog barks", "rain falls while a bird sings"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny random StableAudioPipeline saved with ``save_pretrained``: the hub repository's layout."""
    from diffusers import CosineDPMSolverMultistepScheduler, StableAudioPipeline

    bb = StableAudioBackbone.build_random("tiny", seed=0)
    with torch.no_grad():  # keep the random decoder's output in a plausible range
        bb.vae.decoder.conv2.weight.mul_(0.1)
    pipe = StableAudioPipeline(vae=bb.vae, text_encoder=bb.text_encoder, projection_model=bb.projection_model,
                               tokenizer=bb.tokenizer, transformer=bb.unet,
                               scheduler=CosineDPMSolverMultistepScheduler())
    path = tmp_path_factory.mktemp("stable_audio") / "stable-audio-open-tiny"
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def pipe(folder):
    from diffusers import StableAudioPipeline

    return StableAudioPipeline.from_pretrained(folder)


@pytest.fixture(scope="module")
def backbone(folder):
    return StableAudioBackbone.from_pretrained(str(folder))


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("clap")
    model, processor = tiny_clap()
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def test_folder_is_the_published_layout(folder, backbone):
    for part in ("vae", "transformer", "projection_model", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / part).is_dir(), part
    assert (folder / "model_index.json").is_file()
    assert (backbone.sample_rate, backbone.channels, backbone.hop_length) == (44100, 2, 2048)
    assert backbone.window_samples == backbone.unet.config.sample_size * 2048  # the pipeline's full length


@pytest.mark.slow
def test_vae_round_trip_equals_the_pipelines(backbone, pipe):
    wav = torch.randn(1, 2, backbone.window_samples) * 0.1
    with torch.no_grad():
        ours = backbone.decode(backbone.encode_audio(wav))
        theirs = pipe.vae.decode(pipe.vae.encode(wav).latent_dist.mode()).sample
    assert ours.shape == (1, 2, backbone.window_samples)
    assert (ours - theirs).abs().max().item() < 1e-6


def test_conditioning_equals_encode_prompt_and_duration(backbone, pipe):
    with torch.no_grad():
        text = pipe.encode_prompt(PROMPTS, "cpu", False)
        start, total = pipe.encode_duration(0.0, backbone.window_seconds, "cpu", False, len(PROMPTS))
        cond = backbone.encode_text(PROMPTS)
    expected = torch.cat([text, start, total], dim=1)
    assert cond.mask is None and cond.hidden.shape == expected.shape
    assert (cond.hidden - expected).abs().max().item() < 1e-6
    assert torch.equal(backbone.null_cond(cond).hidden, torch.zeros_like(expected))  # the pipeline's unconditional


@pytest.mark.slow
def test_sampling_at_eta_1_without_a_fit_equals_the_pipeline(backbone, pipe):
    """Step 3 of the method (``ImagicEditor.sample_edits``, e_int = e_target) with the model card's sampler."""
    seed, steps, guidance = 7, 6, 7.0
    editor = ImagicEditor(modules={"backbone": backbone}, hparams=dict(
        seed=seed, sample_steps=steps, guidance_scale=guidance,
        sampler=lambda config: model_sampler(config, seed)), run_opts={"device": "cpu", "noprogressbar": True})
    editor.z0 = torch.zeros(1, *backbone.encode_audio(torch.zeros(1, 2, 2048)).shape[1:])
    with torch.no_grad():
        e_target = backbone.encode_text(PROMPTS[:1])
        ours = editor.sample_edits([1.0], e_target, e_opt=TextCond(torch.randn_like(e_target.hidden)))[0, 0]
        theirs = pipe(PROMPTS[0], num_inference_steps=steps, guidance_scale=guidance, output_type="latent",
                      generator=torch.Generator().manual_seed(seed)).audios
        audio = pipe(PROMPTS[0], num_inference_steps=steps, guidance_scale=guidance,
                     generator=torch.Generator().manual_seed(seed)).audios
        decoded = backbone.decode(ours[None])
    assert (ours[..., 0] - theirs[0]).abs().max().item() < 1e-4
    assert (decoded[..., : audio.shape[-1]] - audio).abs().max().item() < 1e-4


def test_training_objective_is_v_on_the_cosine_levels(backbone):
    z0, noise, t = torch.randn(2, 8, 32, 1), torch.randn(2, 8, 32, 1), torch.tensor([0, 700])
    time = grid_times(backbone.scheduler.config[SAMPLER_KEY]["sigma_max"])[t].float().view(-1, 1, 1, 1)
    alpha, sigma = torch.cos(torch.pi / 2 * time), torch.sin(torch.pi / 2 * time)
    # float32 alphas_cumprod, as on every DDPM schedule: sqrt(1 - 0.9999975) carries ~1 % of 0.0016
    assert torch.allclose(backbone.add_noise(z0, noise, t), alpha * z0 + sigma * noise, atol=1e-4)
    assert torch.allclose(backbone.training_target(z0, noise, t), alpha * noise - sigma * z0, atol=1e-4)
    cond = backbone.encode_text(PROMPTS[:1]).repeat(2)
    with torch.no_grad():  # a grid level is the model time it stands for
        assert torch.allclose(backbone.predict(z0, t, cond), backbone.predict(z0, time.flatten(), cond), atol=1e-6)
    assert abs(time.max().item() - 2 / torch.pi * np.arctan(500.0) * 701 / 1000) < 1e-6


def test_lora_reaches_the_transformers_attention():
    bb = StableAudioBackbone.build_random("tiny")
    bb.enable_lora(rank=2)
    params = bb.trainable_parameters("lora")
    names = [n for n, p in bb.unet.named_parameters() if p.requires_grad]
    assert params and all("lora_" in n for n in names)
    assert any(".attn1.to_q.lora_A" in n for n in names) and any(".attn2.to_k.lora_A" in n for n in names)


@pytest.mark.slow
def test_baselines_run_on_its_schedulers(backbone):
    z0 = backbone.encode_audio(torch.randn(1, 2, backbone.window_samples) * 0.1)
    prompt, target = backbone.encode_text(PROMPTS[:1]), backbone.encode_text(PROMPTS[1:])
    with torch.no_grad():
        out = sdedit(backbone, lambda: model_sampler(backbone.scheduler.config, 0), z0, torch.randn_like(z0), target,
                     [0.0, 0.5], steps=4, guidance_scale=7.0)
        assert torch.equal(out[0], z0[0]) and torch.isfinite(out).all() and not torch.allclose(out[1], z0[0])
        back = ddpm_inversion(backbone, z0, prompt, prompt, [1.0], 4, 7.0, torch.Generator().manual_seed(0))
        assert (back - z0).abs().max() < 1e-3  # the condition it was inverted under gives the input back
        kept = inversion_free(backbone, z0, prompt, prompt, [1.0], 4, 7.0, torch.Generator().manual_seed(0))
        assert (kept - z0).abs().max() < 1e-5


def test_stereo_clip_round_trips_through_the_model_layout():
    clip = AudioClip(torch.stack([torch.ones(441), -torch.ones(441)]), 44100)
    wav = clip.to_model(44100, channels=2)
    assert torch.equal(wav, clip.samples)  # both channels as they are
    assert torch.equal(clip.from_model(wav[None], 44100)[0], clip.samples)
    mono = AudioClip(torch.ones(1, 441), 44100)
    assert mono.to_model(44100, channels=2).shape == (2, 441)


@pytest.mark.slow
@pytest.mark.parametrize("seconds", [1.2, 2.6])  # one window; three windows crossfaded, as on the other backbones
def test_stereo_edit_end_to_end_writes_every_output(folder, clap_dir, tmp_path, seconds):
    t = np.arange(int(seconds * 44100)) / 44100
    left, right = np.sin(2 * np.pi * 440 * t) * 0.3, np.sign(np.sin(2 * np.pi * 3 * t)) * 0.2
    clip = tmp_path / "stereo.wav"
    sf.write(clip, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    result = run_edit(ImagicEditor, ["hparams/style_transfer.yaml", "--backbone=stable_audio_open",
                                     f"--input_wav={clip}", "--target_prompt=a dog barks",
                                     *tiny_args(folder, tmp_path / "out", f"--scorer_source={clap_dir}",
                                                "--window_seconds=1.2", "--emb_steps=3", "--ft_steps=3",
                                                "--sample_steps=3", "--ft_mode=lora", "--lora_rank=2")])
    assert len(result.losses["embedding"]) == 3 and len(result.losses["finetune"]) == 3
    assert result.latents.shape[-2:] == (26, 1) and result.wavs.shape[1] == 2
    assert len(result.window_starts) == (1 if seconds <= 1.2 else 3)
    for name in ("input.wav", "best.wav", "edit_eta0.00.wav", "edit_eta1.00.wav", "scores.csv", "spectrograms.png",
                 "clap_vs_eta.png", "train_log.txt"):
        assert (result.folder / name).is_file(), name
    info = sf.info(str(result.folder / "edit_eta1.00.wav"))
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, len(t))
    out, _ = sf.read(result.folder / "edit_eta1.00.wav")
    assert np.abs(out[:, 0] - out[:, 1]).max() > 0  # two channels, not a mono copy
    assert next((result.folder / "save").glob("CKPT*/unet.ckpt"))


def test_missing_model_offline_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for source in (HUB_ID, f"stabilityai/not-cached-{uuid.uuid4().hex[:8]}"):
        with pytest.raises(UserError) as err:
            StableAudioBackbone.from_pretrained(source)
        assert "\n" not in str(err.value) and source in str(err.value)
        assert f"huggingface-cli download {source}" in str(err.value)


def test_missing_model_offline_through_the_recipe_writes_nothing(monkeypatch, clip, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=HUB_ID):
        run_edit(ImagicEditor, ["hparams/style_transfer.yaml", "--backbone=stable_audio_open", f"--input_wav={clip}",
                                "--target_prompt=a dog barks", *tiny_args(HUB_ID, tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_published_parameter_counts():
    """The published configuration on the meta device: DiT 1057 M, VAE 156 M, T5-base encoder 109 M (paper, Table 1)."""
    from diffusers import AutoencoderOobleck, StableAudioDiTModel, StableAudioProjectionModel
    from transformers import T5Config, T5EncoderModel

    from audio_editing.backbones.stable_audio import PROJECTION_CONFIG, T5_BASE_CONFIG

    def count(module):
        return sum(p.numel() for p in module.parameters())

    with torch.device("meta"):
        dit, vae = count(StableAudioDiTModel()), count(AutoencoderOobleck())
        t5, projection = count(T5EncoderModel(T5Config(**T5_BASE_CONFIG))), count(
            StableAudioProjectionModel(**PROJECTION_CONFIG))
    assert dit == 1_056_939_136 and vae == 156_112_514 and t5 == 109_628_544 and projection == 396_544
