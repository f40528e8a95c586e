"""Sampling primitives shared by the method's step 3 and the baselines: guided predictions,
edit-friendly DDPM inversion (Huberman-Spiegelglas et al., 2024), whose noise maps let a latent be
regenerated exactly under the condition it was inverted with and edited under another, and
inversion-free editing (FlowEdit), which moves the input latent by the difference of two predictions.
"""

import contextlib
from typing import Callable, List, Optional

import torch
from diffusers import DDIMScheduler
from tqdm.auto import tqdm

from audio_editing.backbones.base import TextCond

AfterStep = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def unconstrained(z, next_t):
    return z


def guided_output(backbone, sampler, z: torch.Tensor, t, both: TextCond, guidance_scale,
                  added_weights: torch.Tensor = None) -> torch.Tensor:
    """Classifier-free guided model output for ``z``; ``both`` = [null, prompt]; ``guidance_scale`` a number or
    one per row ([n, 1, 1, 1]). With ``added_weights`` (one per row, [n, 1, 1, 1]) ``both`` = [null, prompt,
    added] and the added condition is guided in beside the prompt at ``added_weights`` x ``guidance_scale``
    (composable diffusion, Liu et al. 2022: the output holds what each condition asks for)."""
    parts = 2 if added_weights is None else 3
    model_in = sampler.scale_model_input(torch.cat([z] * parts), t)
    uncond, cond, *added = backbone.predict(model_in, t, both).float().chunk(parts)
    guided = uncond + guidance_scale * (cond - uncond)
    if added:
        guided = guided + added_weights * guidance_scale * (added[0] - uncond)
    return guided


def renoise(sampler: DDIMScheduler, z: torch.Tensor, t_from, t_to, generator: torch.Generator) -> torch.Tensor:
    """``z`` at timestep ``t_from`` noised forward to the later ``t_to``: q(z_to | z_from) of the sampler's schedule."""
    kept = sampler.alphas_cumprod[int(t_to)] / sampler.alphas_cumprod[int(t_from)]
    noise = torch.randn(z.shape, generator=generator).to(z)
    return kept.sqrt().to(z) * z + (1 - kept).sqrt().to(z) * noise


def denoise(backbone, sampler, z: torch.Tensor, timesteps, both: TextCond, guidance_scale,
            after_step: AfterStep = unconstrained, jumps: int = 1, generator: torch.Generator = None,
            on_step: Callable[[], None] = None, added_weights: torch.Tensor = None) -> torch.Tensor:
    """``z`` denoised through ``timesteps`` with guidance (a number, or one per row), ``after_step(z, next_t)``
    after each step. ``jumps`` > 1 (a DDIM sampler): each step is denoised that many times, noised back to its
    level in between with ``generator``'s noise (RePaint's resampling: what was generated meets what
    ``after_step`` holds again). ``on_step()`` after each step (a progress bar). ``added_weights``: ``both`` holds
    a third, added condition (:func:`guided_output`)."""
    for i, t in enumerate(timesteps):
        next_t = timesteps[i + 1] if i + 1 < len(timesteps) else None
        for jump in range(jumps if next_t is not None else 1):
            if jump:
                z = renoise(sampler, z, next_t, t, generator)
            z = sampler.step(guided_output(backbone, sampler, z, t, both, guidance_scale, added_weights), t,
                             z).prev_sample
            z = after_step(z, next_t)
        if on_step is not None:
            on_step()
    return z


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


class SelfAttentionInjection:
    """Self-attention maps of one pass reused by the next (plug-and-play editing, Tumanyan et al. 2023):
    installed on a UNet's self-attention layers (``attn1``), a ``record`` pass keeps each layer's queries
    and keys, and an ``inject`` pass attends with them instead of its own, so where each position looks
    (the input's layout in time) comes from the recorded pass, what it reads (the values) from its own.
    The recorded batch [uncond, cond] serves an injected batch [uncond x n, cond x n]. ``mode`` ``None``:
    the layers compute as before. Use as a context manager: the UNet's own processors come back on exit."""

    def __init__(self, unet):
        self.unet, self.mode, self.stored = unet, None, {}

    def __enter__(self):
        self.saved = self.unet.attn_processors
        self.unet.set_attn_processor({name: _InjectingProcessor(self, name) if ".attn1." in name else proc
                                      for name, proc in self.saved.items()})
        return self

    def __exit__(self, *exc):
        self.unet.set_attn_processor(self.saved)
        self.stored = {}


class _InjectingProcessor:
    """Scaled dot-product self-attention whose queries and keys ``SelfAttentionInjection`` records or replaces."""

    def __init__(self, control: SelfAttentionInjection, name: str):
        self.control, self.name = control, name

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        residual, shape = hidden_states, hidden_states.shape
        if hidden_states.ndim == 4:  # [b, c, h, w] -> [b, h * w, c]
            hidden_states = hidden_states.flatten(2).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        batch, heads = hidden_states.shape[0], attn.heads

        def split(x):  # [b, n, heads * d] -> [b, heads, n, d]
            return x.unflatten(-1, (heads, -1)).transpose(1, 2)

        query, key, value = (split(proj(hidden_states)) for proj in (attn.to_q, attn.to_k, attn.to_v))
        if self.control.mode == "record":
            self.control.stored[self.name] = (query, key)
        elif self.control.mode == "inject":
            recorded_query, recorded_key = self.control.stored[self.name]
            copies = batch // recorded_query.shape[0]
            query, key = (x.repeat_interleave(copies, dim=0).to(value) for x in (recorded_query, recorded_key))
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value)
        out = attn.to_out[1](attn.to_out[0](out.transpose(1, 2).flatten(2)))
        if len(shape) == 4:
            out = out.transpose(1, 2).reshape(shape)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


def regenerate_from_maps(backbone, scheduler: DDIMScheduler, noisy: List[torch.Tensor], maps: List[torch.Tensor],
                         target: TextCond, strength: float, guidance_scale,
                         after_step: AfterStep = unconstrained, source: Optional[TextCond] = None,
                         inject_share: float = 0.0) -> torch.Tensor:
    """Regenerate the last ``round(strength * steps)`` steps from the inverted ``noisy[start]`` [1, ...] under
    each row of ``target`` (one latent per row; ``guidance_scale`` a float or one per row, [n, 1, 1, 1]),
    adding each step's noise map (:func:`ddpm_noise_maps`): the condition of the inversion gives x0 back.

    ``inject_share`` > 0 (with ``source``, the condition of the inversion): over that share of the
    regenerated steps, the first, each step attends with the self-attention maps of the input's own path
    (``noisy[i]`` under ``source``, which the maps regenerate exactly; :class:`SelfAttentionInjection`)."""
    timesteps = scheduler.timesteps
    both = TextCond.cat([backbone.null_cond(target), target])
    start = len(timesteps) - steps_for(strength, len(timesteps))
    inject_until = start + round(inject_share * (len(timesteps) - start)) if source is not None else start
    source_pair = TextCond.cat([backbone.null_cond(source), source]) if inject_until > start else None
    z = noisy[start].expand(target.batch_size, *noisy[start].shape[1:])
    with SelfAttentionInjection(backbone.unet) if inject_until > start else contextlib.nullcontext() as control:
        for i in range(start, len(timesteps)):
            t = timesteps[i]
            if i < inject_until:
                control.mode = "record"
                guided_output(backbone, scheduler, noisy[i], t, source_pair, 1.0)  # recorded: its maps only
                control.mode = "inject"
            elif control is not None:
                control.mode = None
            z = posterior_mean(scheduler, guided_output(backbone, scheduler, z, t, both, guidance_scale), t, z)
            z = after_step(z + maps[i], timesteps[i + 1] if i + 1 < len(timesteps) else None)
    return z


def noise_prediction(backbone, output: torch.Tensor, z_t: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """The epsilon a model output stands for at noisy latent ``z_t`` (``alpha_bar`` = cumulative alpha at t)."""
    kind = backbone.prediction_type
    if kind == "epsilon":
        return output
    if kind == "v_prediction":  # v = sqrt(ab) eps - sqrt(1 - ab) z0, z_t = sqrt(ab) z0 + sqrt(1 - ab) eps
        return alpha_bar.sqrt() * output + (1 - alpha_bar).sqrt() * z_t
    if kind == "sample":
        return (z_t - alpha_bar.sqrt() * output) / (1 - alpha_bar).sqrt()
    raise ValueError(f"unsupported prediction type {kind!r}")


def inversion_free(backbone, z0: torch.Tensor, source: TextCond, target: TextCond, strengths: List[float],
                   steps: int, guidance_scale: float, generator: torch.Generator,
                   after_step: AfterStep = unconstrained, progress: bool = False) -> torch.Tensor:
    """Inversion-free editing latents [len(strengths), ...] (FlowEdit, Kulikov et al. 2024, on the DDIM ODE).

    No inversion and no fresh sampling path: at every step a new noise n noises the input and the
    current edit alike, and the edit moves by the difference of the target- and source-conditioned
    noise predictions. In the DDIM ODE's coordinates x = z_t / sqrt(ab_t), sigma_t = sqrt((1 - ab_t) / ab_t)
    (where dx = eps dsigma), with z_edit starting at the input latent:

        z_edit += (sigma_next - sigma_t) * (eps_target(z_edit + sigma_t n) - eps_source(z0 + sigma_t n))

    Strength s runs the last ``round(s * steps)`` steps: 0 returns ``z0``; with ``target`` equal to
    ``source`` every strength returns ``z0`` (the two predictions cancel). The strengths run one after
    another from ``generator`` (each its own noise); :func:`inversion_free_rows` edits towards many
    targets on one noise path.

    Example
    -------
    >>> from audio_editing.backbones.tango import TangoBackbone
    >>> bb = TangoBackbone.build_tiny()
    >>> z0 = bb.encode_audio(torch.randn(1, 16000) * 0.1)
    >>> prompt = bb.encode_text(["a dog barks"])
    >>> out = inversion_free(bb, z0, prompt, prompt, [0.0, 1.0], 4, 3.0, torch.Generator().manual_seed(0))
    >>> bool((out - z0).abs().max() < 1e-5)
    True
    """
    return torch.cat([inversion_free_rows(backbone, z0, source, target, strength, steps, guidance_scale, generator,
                                          after_step)
                      for strength in tqdm(strengths, desc="inversion-free", disable=not progress,
                                           dynamic_ncols=True)])


def inversion_free_rows(backbone, z0: torch.Tensor, source: TextCond, targets: TextCond, strength: float,
                        steps: int, guidance_scale, generator: torch.Generator,
                        after_step: AfterStep = unconstrained) -> torch.Tensor:
    """Inversion-free editing of one latent ``z0`` [1, ...] towards each row of ``targets`` at once:
    latents [targets.batch_size, ...] over the last ``round(strength * steps)`` steps (see
    :func:`inversion_free`). Every row shares one noise path drawn from ``generator``, so the source
    prediction is computed once per step and the rows' target predictions in one batch: the same
    latents as editing towards each row on its own from the same seed, for the cost of about half.
    ``guidance_scale``: a float, or one per row ([n, 1, 1, 1]).
    """
    scheduler = DDIMScheduler.from_config(backbone.scheduler.config)
    scheduler.set_timesteps(steps, device=z0.device)
    timesteps = scheduler.timesteps
    alpha_bars = scheduler.alphas_cumprod.to(z0.device, torch.float32)
    source_pair = TextCond.cat([backbone.null_cond(source), source])
    target_pair = TextCond.cat([backbone.null_cond(targets), targets])
    z0 = z0.float()
    z = z0.expand(targets.batch_size, *z0.shape[1:]).clone()

    def eps(z_t, t, pair):
        return noise_prediction(backbone, guided_output(backbone, scheduler, z_t, t, pair, guidance_scale),
                                z_t, alpha_bars[t])

    for i in range(len(timesteps) - steps_for(strength, len(timesteps)), len(timesteps)):
        t = timesteps[i]
        next_t = timesteps[i + 1] if i + 1 < len(timesteps) else None
        ab = alpha_bars[t]
        sigma = ((1 - ab) / ab).sqrt()
        sigma_next = ((1 - alpha_bars[next_t]) / alpha_bars[next_t]).sqrt() if next_t is not None else 0.0
        n = torch.randn(z0.shape, generator=generator).to(z0)
        source_t, target_t = ab.sqrt() * (z0 + sigma * n), ab.sqrt() * (z + sigma * n)
        z = z + (sigma_next - sigma) * (eps(target_t, t, target_pair) - eps(source_t, t, source_pair))
        z = after_step(z, None)  # the edit lives in clean-latent space: a constraint holds clean values
    return z
