"""The Backbone seam: conditioning algebra, training targets, folders, what step 2 trains."""

import pytest
import torch

from audio_editing.backbones.base import TextCond
from audio_editing.toy_world.model import ToyBackbone


@pytest.fixture(scope="module")
def backbone():
    return ToyBackbone.build_tiny(seed=0)


def test_lerp_endpoints_and_mask():
    e_opt = TextCond(torch.randn(1, 5, 8), torch.tensor([[1, 1, 1, 0, 0]]))
    e_target = TextCond(torch.randn(1, 5, 8), torch.tensor([[1, 1, 1, 0, 0]]))
    assert torch.equal(e_opt.lerp(e_target, 0.0).hidden, e_opt.hidden)
    assert torch.allclose(e_opt.lerp(e_target, 1.0).hidden, e_target.hidden)
    mid = e_opt.lerp(e_target, 0.3).hidden
    assert torch.allclose(mid, 0.3 * e_target.hidden + 0.7 * e_opt.hidden, atol=1e-6)
    assert torch.equal(e_opt.lerp(e_target, 0.3).mask, e_opt.mask)


def test_cat_pads_sequences_with_masked_zeros():
    a = TextCond(torch.ones(1, 2, 4), torch.ones(1, 2, dtype=torch.long))
    b = TextCond(torch.ones(2, 5, 4), torch.ones(2, 5, dtype=torch.long))
    both = TextCond.cat([a, b])
    assert both.hidden.shape == (3, 5, 4) and both.mask.shape == (3, 5)
    assert both.mask[0].tolist() == [1, 1, 0, 0, 0] and both.hidden[0, 2:].abs().sum() == 0


def test_vector_conditioning_lerps_and_cats():
    a, b = TextCond(torch.zeros(1, 6)), TextCond(torch.ones(2, 6))
    assert TextCond.cat([a, b]).hidden.shape == (3, 6)
    assert torch.allclose(a.lerp(TextCond(torch.ones(1, 6)), 0.5).hidden, torch.full((1, 6), 0.5))


def test_null_cond_matches_shape_and_is_the_empty_prompt(backbone):
    cond = backbone.encode_text(["a dog barks loudly twice", "rain"])
    null = backbone.null_cond(cond)
    assert null.hidden.shape == cond.hidden.shape and null.mask.shape == cond.mask.shape
    empty = backbone.encode_text([""])
    assert torch.allclose(null.hidden[0], empty.hidden[0])


@pytest.mark.parametrize("prediction_type", ["v_prediction", "epsilon"])
def test_training_target_follows_the_scheduler(prediction_type):
    backbone = ToyBackbone.build_tiny(prediction_type=prediction_type)
    z0, noise = torch.randn(3, 4, 32, 16), torch.randn(3, 4, 32, 16)
    t = torch.tensor([0, 500, 999])
    target = backbone.training_target(z0, noise, t)
    if prediction_type == "epsilon":
        assert torch.equal(target, noise)
        return
    assert torch.allclose(target, backbone.scheduler.get_velocity(z0, noise, t))
    # v = sqrt(alpha_bar) * eps - sqrt(1 - alpha_bar) * z0, from the schedule itself
    alpha_bar = backbone.scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    expected = alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * z0
    assert torch.allclose(target, expected, atol=1e-5)
    assert not torch.allclose(target, noise, atol=1e-3)


def test_folder_round_trip_gives_the_same_model(backbone, tmp_path):
    backbone.save_pretrained(tmp_path / "model")
    loaded = ToyBackbone.from_pretrained(str(tmp_path / "model"))
    z = torch.randn(1, 4, 32, 16)
    cond = backbone.encode_text(["a siren"])
    t = torch.tensor([300])
    assert torch.allclose(backbone.predict(z, t, cond), loaded.predict(z, t, loaded.encode_text(["a siren"])),
                          atol=1e-5)


def test_missing_model_folder_is_a_user_error(tmp_path):
    from audio_editing.errors import UserError

    with pytest.raises(UserError, match="no embedded model"):
        ToyBackbone.from_pretrained(str(tmp_path / "nowhere"))


def test_encode_decode_shapes(backbone):
    wav = torch.randn(2, 12000) * 0.1
    z = backbone.encode_audio(wav)
    assert z.shape == (2, 4, 32, 16)
    assert backbone.decode(z).shape == (2, backbone.window_samples)


def test_lora_mode_trains_only_adapter_weights():
    backbone = ToyBackbone.build_tiny(seed=1)
    backbone.enable_lora(rank=2)
    params = backbone.trainable_parameters("lora")
    names = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert params and all("lora_" in n for n in names)
    full = backbone.trainable_parameters("full")
    assert len(full) == len(list(backbone.unet.parameters()))
    assert not any(p.requires_grad for p in backbone.vae.parameters())


def test_latent_time_mask_marks_partly_blank_frames_unobserved(backbone):
    keep = torch.ones(1, backbone.window_samples)
    keep[0, 5000:7000] = 0
    mask = backbone.latent_time_mask(keep, (1, 4, 32, 16))
    frames_per_sample = 32 / backbone.window_samples
    blank = mask[0, 0, :, 0] == 0
    assert blank[int(5000 * frames_per_sample)] and blank[int(6999 * frames_per_sample)]
    assert not blank[0] and not blank[-1]


def test_pooled_text_token_is_the_masked_mean_of_the_states():
    backbone = ToyBackbone.build_tiny()
    plain = backbone.encode_text(["a dog barks", "rain"])
    backbone.config["pooled_text_token"] = True
    pooled = backbone.encode_text(["a dog barks", "rain"])
    assert pooled.hidden.shape[1] == plain.hidden.shape[1] + 1
    assert torch.equal(pooled.hidden[:, 1:], plain.hidden) and torch.equal(pooled.mask[:, 1:], plain.mask)
    assert pooled.mask[:, 0].eq(1).all()
    for row in range(2):
        real = plain.hidden[row, plain.mask[row].bool()]
        torch.testing.assert_close(pooled.hidden[row, 0], real.mean(0))  # padding does not count


def test_loading_a_model_folder_prints_no_weight_loading_bar(backbone, tmp_path, capfd):
    from transformers.utils import logging as hf_logging

    backbone.save_pretrained(tmp_path / "model")
    capfd.readouterr()
    hf_logging.enable_progress_bar()
    ToyBackbone.from_pretrained(str(tmp_path / "model"))
    out, err = capfd.readouterr()
    assert "Loading weights" not in out + err
    assert hf_logging.is_progress_bar_enabled()  # a download elsewhere still shows its progress


@pytest.mark.parametrize("sampler_name", ["DDIMScheduler", "DPMSolverMultistepScheduler"])
def test_first_timestep_starts_sampling_from_noise_lower_and_the_sampler_knows(tmp_path, sampler_name):
    """``first_timestep`` in backbone.json: the steps above it are left out, the sampler steps on from there
    (DPM-Solver's step index included), and without it every step runs."""
    import json

    import diffusers

    tiny = ToyBackbone.build_tiny(seed=0)
    tiny.config["first_timestep"] = 900
    tiny.save_pretrained(tmp_path / "model")
    assert json.loads((tmp_path / "model" / "backbone.json").read_text())["first_timestep"] == 900
    backbone = ToyBackbone.from_pretrained(str(tmp_path / "model"))
    sampler = getattr(diffusers, sampler_name).from_config(backbone.scheduler.config, timestep_spacing="trailing")
    sampler.set_timesteps(25)
    every = sampler.timesteps.clone()
    timesteps = backbone.noise_timesteps(sampler)
    assert int(timesteps[0]) <= 900 < int(every[len(every) - len(timesteps) - 1])
    assert torch.equal(timesteps, every[-len(timesteps):]) and len(timesteps) < len(every)
    z = torch.randn(1, 4, 32, 16)
    for t in timesteps:  # the sampler accepts the shortened run to the end
        z = sampler.step(torch.zeros_like(z), t, z).prev_sample
    assert torch.isfinite(z).all()
    backbone.first_timestep = None
    sampler.set_timesteps(25)
    assert torch.equal(backbone.noise_timesteps(sampler), every)


def test_first_timestep_with_a_sigma_scaled_sampler_is_a_user_error():
    from diffusers import EulerDiscreteScheduler

    from audio_editing.errors import UserError

    backbone = ToyBackbone.build_tiny(seed=0)
    backbone.first_timestep = 900
    sampler = EulerDiscreteScheduler.from_config(backbone.scheduler.config)
    sampler.set_timesteps(25)
    with pytest.raises(UserError, match="DDIM, DDPM, DPM-Solver or UniPC"):
        backbone.noise_timesteps(sampler)
