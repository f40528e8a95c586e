"""Where step 3 starts, and how far it regenerates: the method's sampling starts as functions.

``noise`` (the paper): fresh seeded noise, denoised under each eta's interpolated embedding.
``ddpm_inversion``: the input's own edit-friendly DDPM noise maps under the fine-tuned model and e_opt (or the
empty prompt: ``inversion_source``), the last ``inversion_strength`` of the steps regenerated under each eta's
embedding; e_opt itself gives the input latent back, so timing is held while eta moves content.
``inversion_free``: the input latent moved by the difference of the fine-tuned model's predictions under e_int
and e_opt (FlowEdit); eta=0 returns the input too.
Several strengths give one sweep each (``SampleStart``), the best kept by the editor.
"""

from typing import Callable, List, NamedTuple, Optional, Tuple

import torch
from diffusers import DDIMScheduler

from audio_editing.backbones.base import TextCond
from audio_editing.editing.inversion import (AfterStep, ddpm_noise_maps, denoise, inversion_free_rows,
                                             regenerate_from_maps)

SAMPLE_STARTS = ("noise", "ddpm_inversion", "inversion_free")  # hparam sample_start
INVERSION_SOURCES = ("e_opt", "empty")  # hparam inversion_source


class SampleStart(NamedTuple):
    """Where one sweep of step 3 starts: ``kind`` (one of ``SAMPLE_STARTS``), the ``strength`` it regenerates at
    (None from noise), the ``source`` condition the input is inverted under (``ddpm_inversion`` only), and
    ``maps``, the input's DDPM noise maps by (source, window), shared by the sweeps of one edit (None: not kept)."""

    kind: str = "noise"
    strength: Optional[float] = None
    source: Optional[str] = None
    maps: Optional[dict] = None


def sample_start(hparams) -> str:
    """The hparam ``sample_start``: one of ``SAMPLE_STARTS`` (checked by ``checks.check_sampling``)."""
    return hparams.sample_start


def inversion_strengths(hparams, sweep: str) -> List[Optional[float]]:
    """The strengths step 3 regenerates at from the inverted input (``inversion_strength``: a number, or a
    list for one sweep per strength, the best kept); ``[None]`` where step 3 starts from noise or the editor
    sweeps something other than eta (``sweep``)."""
    if sweep != "eta" or sample_start(hparams) == "noise":
        return [None]
    strengths = hparams.inversion_strength
    return [float(x) for x in strengths] if isinstance(strengths, (list, tuple)) else [float(strengths)]


def inversion_source(hparams, sweep: str) -> Optional[str]:
    """The condition the input is inverted under when step 3 starts from its DDPM noise maps
    (``inversion_source``: ``e_opt`` or ``empty``); None for the other starts. Under e_opt the fine-tuned
    model explains the input, so the maps hold little of it and eta moves the sound freely (eta=0 returns the
    input); under the empty prompt they hold more of the input, its timing with it."""
    if sweep != "eta" or sample_start(hparams) != "ddpm_inversion":
        return None
    return hparams.inversion_source


def inversion_condition(backbone, source: str, e_opt: TextCond) -> TextCond:
    """The condition the input is inverted under for ``inversion_source`` ``source``: ``e_opt``, or ``empty``
    (the backbone's null condition)."""
    return e_opt if source == "e_opt" else backbone.null_cond(e_opt)


def from_noise(backbone, sampler, steps: int, noise: torch.Tensor, conds: TextCond, scales: torch.Tensor,
               after_step: AfterStep, jumps: int, generator: torch.Generator,
               on_step: Callable[[], None], added: Optional[Tuple[TextCond, torch.Tensor]] = None) -> torch.Tensor:
    """Step 3 from the window's seeded ``noise`` [1, ...]: every row of ``conds`` (one eta's interpolated
    embedding, guided by its row of ``scales``) denoised in one batch with ``sampler`` over ``steps`` steps (those
    from the model's first timestep on: ``noise_timesteps``),
    each ``jumps`` times (RePaint's resampling; 1: once). ``added``: (a condition [1, ...], a weight per row
    [n_rows, 1, 1, 1]) guided in beside each row's (``inversion.guided_output``). Latents [n_rows, ...]."""
    sampler.set_timesteps(steps, device=noise.device)
    n_rows = len(conds.hidden)
    z = (noise * sampler.init_noise_sigma).repeat(n_rows, 1, 1, 1)
    both = TextCond.cat([backbone.null_cond(conds), conds, *([added[0].repeat(n_rows)] if added else [])])
    timesteps = backbone.noise_timesteps(sampler)
    for _ in range(len(sampler.timesteps) - len(timesteps) if on_step else 0):  # the steps above the first one
        on_step()
    return denoise(backbone, sampler, z, timesteps, both, scales, after_step, jumps, generator, on_step=on_step,
                   added_weights=added[1] if added else None)


def from_inversion(backbone, z0: torch.Tensor, e_opt: TextCond, conds: TextCond, scales: torch.Tensor,
                   start: SampleStart, window: int, steps: int, guidance_scale: float, inject_share: float,
                   generator: torch.Generator, after_step: AfterStep) -> torch.Tensor:
    """Step 3 anchored on the input: invert the window's latent ``z0`` [1, ...] under the fine-tuned model and
    ``start.source``'s condition (:func:`~audio_editing.editing.inversion.ddpm_noise_maps`, DDPM steps, guidance
    ``guidance_scale``; kept in ``start.maps`` for the other sweeps), then regenerate the last ``start.strength``
    of the steps under each row of ``conds``, the first ``inject_share`` of them with the input path's
    self-attention maps. Latents [n_rows, ...]."""
    scheduler = DDIMScheduler.from_config(backbone.scheduler.config)
    scheduler.set_timesteps(steps, device=z0.device)
    source = inversion_condition(backbone, start.source, e_opt)
    maps = {} if start.maps is None else start.maps
    if (start.source, window) not in maps:
        maps[start.source, window] = ddpm_noise_maps(backbone, scheduler, z0, source, guidance_scale, generator)
    noisy, noise_maps = maps[start.source, window]
    return regenerate_from_maps(backbone, scheduler, noisy, noise_maps, conds, start.strength, scales, after_step,
                                source=source, inject_share=inject_share)


def inversion_free(backbone, z0: torch.Tensor, e_opt: TextCond, conds: TextCond, scales: torch.Tensor,
                   strength: float, steps: int, seed: int, after_step: AfterStep) -> torch.Tensor:
    """Step 3 without a sampling path of its own: inversion-free editing
    (:func:`~audio_editing.editing.inversion.inversion_free_rows`) of the window's latent ``z0`` [1, ...] under
    the fine-tuned model, from ``e_opt`` (which that model reconstructs the input with) towards each row of
    ``conds`` (guided by its row of ``scales``), over the last ``strength`` of the steps. Every eta shares one
    noise path from ``seed``, in one batch; eta=0 returns the input latent (the two predictions cancel)."""
    return inversion_free_rows(backbone, z0, e_opt, conds, strength, steps, scales,
                               torch.Generator().manual_seed(seed), after_step)
