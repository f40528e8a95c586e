"""Sampling primitives shared by the method's step 3 and the baselines: guided predictions and
edit-friendly DDPM inversion (Huberman-Spiegelglas et al., 2024), whose noise maps let a latent be
regenerated exactly under the condition it was inverted with and edited under another.
"""

from typing import Callable, List, Optional

import torch
from diffusers import DDIMScheduler

from audio_editing.backbones.base import TextCond

AfterStep = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def unconstrained(z, next_t):
    return z


def guided_output(backbone, sampler, z: torch.Tensor, t, both: TextCond, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guided model output for one latent; ``both`` = [null, prompt]."""
    model_in = sampler.scale_model_input(torch.cat([z, z]), t)
    uncond, cond = backbone.predict(model_in, t, both).float().chunk(2)
    return uncond + guidance_scale * (cond - uncond)


def steps_for(strength: float, steps: int) -> int:
    """How many of the last sampling steps a strength regenerates."""
    return round(strength * steps)


def posterior_mean(scheduler: DDIMScheduler, output: torch.Tensor, t, z: torch.Tensor) -> torch.Tensor:
    """Mean of the DDPM posterior p(x_{t-1} | x_t) given the model output (DDIM with eta=1, no noise)."""
    return scheduler.step(output, t, z, eta=1.0, variance_noise=torch.zeros_like(z)).prev_sample


def ddpm_noise_maps(backbone, scheduler: DDIMScheduler, z0: torch.Tensor, cond: TextCond, guidance_scale: float,
                    generator: torch.Generator):
    """Edit-friendly inversion of ``z0``: the noisy latents x_t (one per step, then x0) and the noise maps.

    The x_t are drawn independently, x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps_t. The noise map of
    step t is sigma_t z_t = x_{t-1} - mean(x_t), what the posterior step must add to reach x_{t-1}
    (kept multiplied by sigma_t, so the last step's zero variance needs no division).
    """
    timesteps = scheduler.timesteps
    both = TextCond.cat([backbone.null_cond(cond), cond])
    noisy = [backbone.add_noise(z0, torch.randn(z0.shape, generator=generator).to(z0), t.reshape(1))
             for t in timesteps] + [z0]
    maps = [noisy[i + 1] - posterior_mean(scheduler, guided_output(backbone, scheduler, noisy[i], t, both,
                                                                    guidance_scale), t, noisy[i])
            for i, t in enumerate(timesteps)]
    return noisy, maps


def regenerate_from_maps(backbone, scheduler: DDIMScheduler, noisy: List[torch.Tensor], maps: List[torch.Tensor],
                         target: TextCond, strength: float, guidance_scale,
                         after_step: AfterStep = unconstrained) -> torch.Tensor:
    """Regenerate the last ``round(strength * steps)`` steps from the inverted ``noisy[start]`` [1, ...] under
    each row of ``target`` (one latent per row; ``guidance_scale`` a float or one per row, [n, 1, 1, 1]),
    adding each step's noise map (:func:`ddpm_noise_maps`): the condition of the inversion gives x0 back."""
    timesteps = scheduler.timesteps
    both = TextCond.cat([backbone.null_cond(target), target])
    start = len(timesteps) - steps_for(strength, len(timesteps))
    z = noisy[start].expand(target.batch_size, *noisy[start].shape[1:])
    for i in range(start, len(timesteps)):
        t = timesteps[i]
        z = posterior_mean(scheduler, guided_output(backbone, scheduler, z, t, both, guidance_scale), t, z)
        z = after_step(z + maps[i], timesteps[i + 1] if i + 1 < len(timesteps) else None)
    return z
