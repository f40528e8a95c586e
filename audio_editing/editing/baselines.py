"""Baselines on the method's backbone and harness: SDEdit, edit-friendly DDPM inversion and inversion-free
editing (and the identity and reference rows of a benchmark table: the input unchanged, the reference edit).

Neither trains anything (no steps 1-2). Each sweeps an edit ``strength`` in [0, 1] where the
method sweeps eta: strength 0 returns the input latent, 1 regenerates from the noisiest step.
Everything else (encoding, decoding, an edit type's hooks, scoring, outputs) is the shared
editor's, so ``recipes/evaluate`` compares them with the method clip for clip.

- **SDEdit** (Meng et al., 2022): noise the input latent to the step ``strength * steps``
  from the end of the sampling schedule, then denoise with the target prompt (guided).
- **DDPM inversion** (Huberman-Spiegelglas et al., 2024; ZETA, Manor & Michaeli, 2024): noise
  the input latent independently at every step, x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps_t,
  and keep the noise each DDPM posterior step needs to land on the next x_{t-1}; then
  regenerate from T_start = ``strength * steps`` with the target prompt and those noises.
  The inversion uses the empty prompt, so the baseline gets no more input than the method.
- **Inversion-free editing** (FlowEdit, Kulikov et al., 2024; the training-free line of audio editors
  such as DirectAudioEdit and AudEdit, 2026): no inversion; one shared noise per step noises the input
  and the edit alike and the edit moves by the difference between target- and source-conditioned
  predictions (:func:`inversion_free`). Source condition: the empty prompt.

An edit type's editor gains a baseline with ``with_edit_type(SDEditEditor, InpaintingEditor)``:
the baseline's ``generate`` with the edit type's hooks (inpainting keeps the observed audio).
"""

from typing import List

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler
from tqdm.auto import tqdm

from audio_editing.backbones.base import TextCond
from audio_editing.data.audio import load_audio
from audio_editing.editing.imagic import EditResult, ImagicEditor
from audio_editing.editing.inversion import (AfterStep, ddpm_noise_maps, denoise, inversion_free, regenerate_from_maps,
                                             steps_for, unconstrained)
from audio_editing.errors import UserError

def number_list(values, flag: str, example: str, valid, requirement: str) -> List[float]:
    """``values`` (a number or a list of them) as a list of floats, each passing ``valid``; else a one-line
    ``UserError`` naming ``flag`` (``--strengths``, ``--layer_gains``) with an ``example`` or the ``requirement``."""
    if isinstance(values, (int, float)):
        values = [values]
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise UserError(f"{flag} must be a list of numbers such as {example}, got {values!r}") from None
    if not values or not all(valid(v) for v in values):
        raise UserError(f"{flag} {values} {requirement}")
    return values


def check_strengths(strengths) -> List[float]:
    """The baselines' sweep: numbers in [0, 1]."""
    return number_list(strengths, "--strengths", "[0,0.5,1]", lambda s: 0.0 <= s <= 1.0,
                       "must be a non-empty list of values in [0, 1]; 0 returns the input, 1 regenerates from "
                       "the noisiest step")


def sdedit(backbone, make_sampler, z0: torch.Tensor, noise: torch.Tensor, cond: TextCond,
           strengths: List[float], steps: int, guidance_scale: float, after_step: AfterStep = unconstrained,
           progress: bool = False, jumps: int = 1, generator: torch.Generator = None) -> torch.Tensor:
    """SDEdit latents [len(strengths), ...]: ``z0`` noised to each strength, denoised under ``cond``.

    ``make_sampler()`` returns a fresh diffusers scheduler (one per strength: multistep
    solvers keep state); ``after_step(z, next_t)`` constrains the latent after each step. ``jumps`` > 1
    (a DDIM sampler): each step is denoised that many times, noised back to its level in between with
    ``generator``'s noise (RePaint's resampling, ``ImagicEditor.resample_jumps``).

    Example
    -------
    >>> from audio_editing.backbones.tango import TangoBackbone
    >>> bb = TangoBackbone.build_tiny()
    >>> z0 = bb.encode_audio(torch.zeros(1, 16000))
    >>> out = sdedit(bb, lambda: DDIMScheduler.from_config(bb.scheduler.config), z0, torch.randn_like(z0),
    ...              bb.encode_text(["a dog barks"]), [0.0, 1.0], steps=2, guidance_scale=3.0)
    >>> out.shape[0], torch.equal(out[0], z0[0])
    (2, True)
    """
    both = TextCond.cat([backbone.null_cond(cond), cond])
    latents = []
    for strength in tqdm(strengths, desc="SDEdit", disable=not progress, dynamic_ncols=True):
        sampler = make_sampler()
        sampler.set_timesteps(steps, device=z0.device)
        timesteps = sampler.timesteps[len(sampler.timesteps) - steps_for(strength, steps):]
        z = backbone.add_noise(z0, noise, timesteps[:1]) if len(timesteps) else z0
        latents.append(denoise(backbone, sampler, z, timesteps, both, guidance_scale, after_step, jumps, generator))
    return torch.cat(latents)


def ddpm_inversion(backbone, z0: torch.Tensor, source: TextCond, target: TextCond, strengths: List[float],
                   steps: int, guidance_scale: float, generator: torch.Generator, after_step: AfterStep = unconstrained,
                   progress: bool = False) -> torch.Tensor:
    """DDPM-inversion latents [len(strengths), ...]: invert ``z0`` under ``source``, regenerate under ``target``.

    Strength s regenerates the last ``round(s * steps)`` steps from the inverted x_{T_start}.
    With ``target`` equal to ``source`` every strength gives ``z0`` back (up to float error).

    Example
    -------
    >>> from audio_editing.backbones.tango import TangoBackbone
    >>> bb = TangoBackbone.build_tiny()
    >>> z0 = bb.encode_audio(torch.randn(1, 16000) * 0.1)
    >>> prompt = bb.encode_text(["a dog barks"])
    >>> out = ddpm_inversion(bb, z0, prompt, prompt, [1.0], 4, 3.0, torch.Generator().manual_seed(0))
    >>> bool((out - z0).abs().max() < 1e-4)
    True
    """
    scheduler = DDIMScheduler.from_config(backbone.scheduler.config)
    scheduler.set_timesteps(steps, device=z0.device)
    noisy, maps = ddpm_noise_maps(backbone, scheduler, z0, source, guidance_scale, generator)
    return torch.cat([regenerate_from_maps(backbone, scheduler, noisy, maps, target, strength, guidance_scale,
                                           after_step)
                      for strength in tqdm(strengths, desc="DDPM inversion", disable=not progress,
                                           dynamic_ncols=True)])


class BaselineEditor(ImagicEditor):
    """What the baselines share: no training, a strength sweep (hparam ``strengths``) in place of eta."""

    sweep = "strength"
    sweep_key = "strengths"
    HPARAMS_NEEDED = ("strengths",)
    method = "baseline"
    trains = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sweep_values()  # checked before anything is written

    def sweep_values(self) -> List[float]:
        """``strengths``, checked (read at each edit: the API may change them per edit)."""
        return check_strengths(self.hparams.strengths)

    def generate(self, strengths, e_target, start=None) -> torch.Tensor:
        """Latents [n_strengths, n_windows, ...]: each window of a long input regenerated in turn (from the
        baseline's own start: the method's ``start`` does not apply)."""
        self.compile_unet()
        generator = torch.Generator().manual_seed(self.hparams.seed)
        self.noise = torch.randn(self.z0.shape, generator=generator).to(self.device)
        windows = []
        with torch.no_grad(), self.evaluation_ctx:
            for w in range(self.z0.shape[0]):
                def after_step(z, next_t, w=w):
                    return self.after_denoise_step(z, next_t, w)

                windows.append(self.regenerate(strengths, e_target, generator, self.z0[w: w + 1],
                                               self.noise[w: w + 1], after_step))
        latents = torch.stack(windows, dim=1)
        for strength, z in zip(strengths, latents):
            self.hparams.train_logger.log_stats(
                stats_meta={"method": self.method, self.sweep: strength},
                train_stats={"latent_mse_to_input": (z.float() - self.z0.float()).pow(2).mean().item()})
        return latents

    def regenerate(self, strengths, e_target: TextCond, generator: torch.Generator, z0: torch.Tensor,
                   noise: torch.Tensor, after_step: AfterStep) -> torch.Tensor:
        """Latents [n_strengths, ...] of one window ``z0`` [1, ...]."""
        raise NotImplementedError


class SDEditEditor(BaselineEditor):
    """SDEdit with the method's sampler, steps and guidance (``sampler``, ``sample_steps``, ``guidance_scale``)."""

    method = "sdedit"

    def regenerate(self, strengths, e_target, generator, z0, noise, after_step):
        hp, backbone = self.hparams, self.modules.backbone
        return sdedit(backbone, lambda: hp.sampler(backbone.scheduler.config), z0, noise, e_target,
                      strengths, hp.sample_steps, hp.guidance_scale, after_step, progress=not self.noprogressbar,
                      jumps=self.resample_jumps, generator=generator)


class DDPMInversionEditor(BaselineEditor):
    """Edit-friendly DDPM inversion (``sample_steps`` DDPM steps, ``guidance_scale``); inverts with the empty prompt."""

    method = "ddpm_inversion"

    def regenerate(self, strengths, e_target, generator, z0, noise, after_step):
        hp, backbone = self.hparams, self.modules.backbone
        source = backbone.null_cond(e_target)
        return ddpm_inversion(backbone, z0, source, e_target, strengths, hp.sample_steps, hp.guidance_scale,
                              generator, after_step, progress=not self.noprogressbar)


class InversionFreeEditor(BaselineEditor):
    """Inversion-free editing (``sample_steps``, ``guidance_scale``); the source condition is the empty prompt,
    so the baseline gets no more input than the method."""

    method = "inversion_free"

    def regenerate(self, strengths, e_target, generator, z0, noise, after_step):
        hp, backbone = self.hparams, self.modules.backbone
        return inversion_free(backbone, z0, backbone.null_cond(e_target), e_target, strengths, hp.sample_steps,
                              hp.guidance_scale, generator, after_step, progress=not self.noprogressbar)


class FixedOutputEditor(ImagicEditor):
    """Not an edit: one output fixed in advance, scored and written like an edit's, so a benchmark
    table shows what doing nothing (``IdentityEditor``) and the intended edit (``ReferenceEditor``)
    score. One value of a ``strength`` sweep: 0 (the input) or 1 (the reference)."""

    sweep = "strength"
    sweep_key = "strengths"  # not an eta sweep: the API refuses etas for it
    value = 0.0
    trains = False

    def fixed_output(self, wav: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def fit_input(self, wav: torch.Tensor, target_prompt=None) -> dict:
        self.wav, self.losses, self.resumed_from = wav.cpu(), {}, None  # nothing to encode or fit
        return {}

    def sample(self, target_prompt: str) -> EditResult:
        rate, wav = self.modules.backbone.sample_rate, self.wav
        output = self.fixed_output(wav)[None]
        wavs = self.compose(wav.cpu(), output, rate)
        result = EditResult(etas=[self.value], wavs=wavs, decoded=output, latents=torch.zeros(1, 0),
                            input_latent=torch.zeros(0), sample_rate=rate, sweep=self.sweep)
        result.scores = self.score(wavs, wav.cpu(), target_prompt, rate)
        result.metrics["text_clap_input"] = self.input_text_score(wav, target_prompt)
        result.wavs = self.with_background(wav.cpu(), wavs, rate)
        return result


class IdentityEditor(FixedOutputEditor):
    """The input returned unchanged."""

    method = "identity"

    def fixed_output(self, wav):
        return wav


class ReferenceEditor(FixedOutputEditor):
    """The benchmark's reference edit of the clip (``reference_path``, set per clip by ``with_reference``)."""

    method = "reference"
    value = 1.0
    reference_path = None

    def fixed_output(self, wav):
        reference = load_audio(self.reference_path, self.modules.backbone.sample_rate)
        return F.pad(reference, (0, max(0, wav.shape[-1] - reference.shape[-1])))[: wav.shape[-1]]


def with_reference(editor: type, reference_path: str) -> type:
    """``editor`` (a ``ReferenceEditor`` subclass) returning the reference edit at ``reference_path``."""
    return type(editor.__name__, (editor,), {"reference_path": reference_path})


BASELINES = {"sdedit": SDEditEditor, "ddpm_inversion": DDPMInversionEditor, "inversion_free": InversionFreeEditor}
# rows of a benchmark table scored like a method's, not edits: a judge must give the identity ~0 % success
# and the reference >= 90 %
FIXED_OUTPUTS = {"identity": IdentityEditor, "reference": ReferenceEditor}


def with_edit_type(baseline: type, editor: type) -> type:
    """The baseline's steps with an edit type's hooks (``check_input``, ``after_denoise_step``, ``compose``, ...)."""
    if issubclass(editor, baseline):
        return editor
    name = baseline.__name__.replace("Editor", "") + editor.__name__
    return type(name, (baseline, editor), {})
