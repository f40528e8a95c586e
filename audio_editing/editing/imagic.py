"""The three-step editor (Imagic for audio LDMs, Paissan et al. 2023), one Brain for every recipe.

1. Optimise the text embedding e so the frozen model reconstructs the input latent.
2. Fine-tune the UNet (fully or with LoRA) with that embedding e_opt.
3. Sample with e_int = eta * e_target + (1 - eta) * e_opt for each eta; score each
   edit (Text-CLAP vs the target prompt + Audio-CLAP vs the input) and keep the best.

Recipes subclass ``ImagicEditor`` only where their edit type differs (inpainting
overrides ``check_input``, ``loss_weight``, ``after_denoise_step`` and ``compose``). The baselines
(``editing/baselines.py``) train nothing (``trains``) and replace step 3 (``generate``). ``fit_input`` (steps
1-2) and ``sample`` (step 3) run apart, so that one fit serves many prompts (``audio_editing.api``).

**Long inputs** (longer than the backbone's window) are cut into windows overlapping by
``window_overlap`` of a window (``audio_editing.data.windows``). Each window gets its own
optimised embedding (step 1), one UNet is fine-tuned on all windows, each with its own
embedding (step 2), and each window is sampled with its own interpolated embedding (step 3);
the edited windows are crossfaded. A shared fine-tune costs what one window costs (one
UNet, one checkpoint; each optimisation step draws ``loss_batch`` (window, t) pairs, windows
in turn), while the per-window embeddings keep eta=0 reconstructing every window in place:
one embedding for all windows would let the fine-tuned model return any window anywhere.
"""

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import speechbrain as sb
import torch
from tqdm.auto import tqdm

from audio_editing.backbones.base import TextCond
from audio_editing.data.audio import atomic_write, limit_outputs, mixdown
from audio_editing.data.windows import crossfade, cut_windows, window_starts
from audio_editing.editing.background import restore_background
from audio_editing.editing.checkpoints import (COMPLETE, PHASES, EditProgress, OptimizerState, TrainableUNetState,
                                               fit_fingerprint, fit_identity)
from audio_editing.editing.sample_starts import (SampleStart, from_inversion, from_noise,
                                                 inversion_free, inversion_source, inversion_strengths, sample_start)
from audio_editing.editing.selection import ONSET_WEIGHT, select_index, selection_keys
from audio_editing.evaluation.metrics import mel_snr, onset_f1

logger = logging.getLogger(__name__)

INITS = ("target", "empty", "source")  # hparam init: where step 1 starts, see ImagicEditor.initial_embedding
ENCODE_CHUNK = 8  # windows per VAE call


def is_compiled(module: torch.nn.Module) -> bool:
    """Whether ``module.compile()`` has been called on ``module`` (it stays the same module)."""
    return getattr(module, "_compiled_call_impl", None) is not None


class Draws(NamedTuple):
    """One batch of the diffusion loss: which windows, at which timesteps, with which noise."""

    z0: torch.Tensor  # [n, C, time, freq] the drawn windows' latents
    t: torch.Tensor  # [n]
    noise: torch.Tensor  # [n, C, time, freq]
    cond: TextCond  # [n, ...] each draw's window's embedding
    windows: torch.Tensor  # [n] window index of each draw


class PhaseClock:
    """Wall time per phase (synchronising the GPU so that each phase's kernels count to it)."""

    def __init__(self, device):
        self.cuda = str(device).startswith("cuda")
        self.laps, self.last = {}, time.perf_counter()

    def lap(self, name: str) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last  # a phase run twice adds up
        self.last = now


class EmbeddingHolder(torch.nn.Module):
    """The optimised text embedding e_opt as a parameter (initialised from ``init``'s prompt)."""

    def __init__(self, cond: TextCond):
        super().__init__()  # one row per window
        self.hidden = torch.nn.Parameter(cond.hidden.detach().clone())
        self.register_buffer("mask", None if cond.mask is None else cond.mask.clone())

    def cond(self) -> TextCond:
        return TextCond(self.hidden, self.mask)


@dataclass
class EditResult:
    """What one edit produced: one waveform and one score row per sweep value (eta, or a baseline's strength)."""

    etas: List[float]
    wavs: torch.Tensor  # [n_eta, T] at sample_rate (a stereo model's [n_eta, 2, T]), at the input's level (composed,
    # then with_background)
    decoded: torch.Tensor  # the same before ``compose``
    latents: torch.Tensor  # [n_eta, n_windows, C, time, freq]
    input_latent: torch.Tensor  # [n_windows, C, time, freq]
    sample_rate: int
    window_starts: List[int] = field(default_factory=lambda: [0])  # samples at sample_rate
    sweep: str = "eta"  # what ``etas`` are: "eta" (the method) or "strength" (the baselines)
    scores: dict = field(default_factory=dict)  # column -> list per eta
    metrics: dict = field(default_factory=dict)  # per-edit numbers (e.g. the VAE's own reconstruction)
    losses: dict = field(default_factory=dict)
    resumed_from: Optional[str] = None
    folder: Optional[Path] = None  # where the outputs were written
    outputs: Optional[torch.Tensor] = None  # [n_eta, channels, T] as written: the input's rate and layout

    selection: str = "max_sum"  # how best_index chooses (``select_index``)
    onset_weight: float = ONSET_WEIGHT

    @property
    def best_index(self) -> int:
        return select_index(self.scores, self.selection, self.onset_weight)

    def selection_key(self):
        """The rule's key of the chosen value (``selection_keys``): which of two sweeps chose better."""
        return selection_keys(self.scores, self.selection, self.onset_weight)[self.best_index]


def hparams_needed(editor_class: type) -> list:
    """Every hparam ``editor_class`` reads: the ``HPARAMS_NEEDED`` of each class it is made of (the shared editor's,
    its edit type's, its method's).

    Example
    -------
    >>> "strengths" in hparams_needed(ImagicEditor), "etas" in hparams_needed(ImagicEditor)
    (False, True)
    """
    return list(dict.fromkeys(key for cls in reversed(editor_class.__mro__)
                              for key in vars(cls).get("HPARAMS_NEEDED", ())))


class ImagicEditor(sb.Brain):
    """Text-prompted audio editing by embedding optimisation, fine-tuning and interpolation.

    Modules: ``backbone`` (an ``audio_editing.backbones.base.Backbone``).
    Hparams used: ``emb_steps``, ``emb_lr``, ``ft_steps``, ``ft_lr``, ``ft_mode`` (full | lora),
    ``lora_rank``, ``lora_targets`` (module names, None: the backbone's), ``lora_lr`` (step 2's learning
    rate with LoRA, None: ``ft_lr``), ``loss_batch`` (timesteps drawn
    per optimisation step), ``t_min``, ``t_max``,
    ``sample_steps``, ``guidance_scale``,
    ``sampler``, ``seed``, ``ckpt_interval_steps``, ``ckpt_min_minutes``,
    ``log_interval``, ``input_peak`` (the peak level the model sees; outputs are scaled back),
    ``window_overlap`` (long inputs: overlap of consecutive windows, a fraction of the window),
    ``scorer`` (an ``AudioTextScorer``), ``train_logger``; ``etas``, ``eta_selection``, ``onset_weight``,
    ``init``, ``source_prompt``, ``sample_start``, ``inversion_strength``, ``inversion_source``,
    ``attention_injection``, ``keep_background``, ``compile_backend``. Each default lives in the hparams files
    (the recipe's or its backbone's): ``HPARAMS_NEEDED`` lists them, and ``api.Editor`` refuses hparams that
    lack one (``hparams_needed``).
    """

    HPARAMS_NEEDED = ("emb_steps", "emb_lr", "ft_steps", "ft_lr", "ft_mode", "lora_rank", "lora_targets", "lora_lr",
                      "loss_batch", "t_min", "t_max", "sample_steps", "guidance_scale", "sampler", "seed",
                      "ckpt_interval_steps", "ckpt_min_minutes", "log_interval", "input_peak", "window_overlap",
                      "scorer", "etas", "eta_selection", "onset_weight", "init", "source_prompt", "sample_start",
                      "inversion_strength", "inversion_source", "attention_injection", "keep_background",
                      "compile_backend")

    # --- the loss shared by steps 1 and 2 ----------------------------------------
    def compute_forward(self, batch: Draws, stage):
        """Noise the drawn windows' latents at the drawn timesteps and predict the training target."""
        backbone = self.modules.backbone
        prediction = backbone.predict(backbone.add_noise(batch.z0, batch.noise, batch.t), batch.t, batch.cond)
        return prediction, backbone.training_target(batch.z0, batch.noise, batch.t)

    def compute_objectives(self, predictions, batch: Draws, stage):
        prediction, target = predictions
        error = (prediction.float() - target.float()) ** 2
        weight = self.loss_weight(error.shape, batch.windows)
        if weight is None:
            return error.mean()
        return (error * weight).sum() / (weight.expand_as(error).sum() + 1e-8)

    def draws(self, cond: TextCond, windows: torch.Tensor, t: torch.Tensor, generator) -> Draws:
        """The loss batch for windows ``windows`` at timesteps ``t``, noise from ``generator``."""
        z0 = self.z0[windows.to(self.z0.device)]
        noise = torch.randn(z0.shape, generator=generator).to(self.device)
        # index_select, not x[windows]: the latter's backward (an accumulating index_put_) sums the
        # draws of one window in a thread-dependent order on the CPU, so two runs of one seed differed
        return Draws(z0, t.to(self.device), noise, cond.map(lambda x: x.index_select(0, windows.to(x.device))),
                     windows)

    def training_draws(self, phase: str, step: int, cond: TextCond) -> Draws:
        """``loss_batch`` (window, t) pairs for one step: windows in turn, t ~ U[t_min, t_max]."""
        n, hp = self.hparams.loss_batch, self.hparams
        windows = (step * n + torch.arange(n)) % self.z0.shape[0]
        high = min(hp.t_max, self.modules.backbone.num_train_timesteps)
        t = torch.randint(hp.t_min - 1, high, (n,), generator=self.progress.generator)
        return self.draws(cond, windows, t, self.progress.generator)

    def check_input(self, wav: torch.Tensor, clip) -> torch.Tensor:
        """Hook run before anything is written: raise ``UserError`` for input this edit type cannot take.

        ``wav`` is the model's input (mono, model rate); ``clip`` the file as read (an ``AudioClip``).
        """
        return wav

    def loss_weight(self, shape, windows: torch.Tensor) -> Optional[torch.Tensor]:
        """Per-latent-element weight of the reconstruction loss (None: uniform); row i is of window ``windows[i]``."""
        return None

    def cut_windows(self, wav: torch.Tensor, pad_value: float = 0.0) -> torch.Tensor:
        """[..., T] at the model's rate -> [..., n_windows, window samples], as this edit cuts its input."""
        return cut_windows(wav, self.window_starts, self.modules.backbone.window_samples, pad_value)

    def join_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """[..., n_windows, window samples] -> [..., T]: crossfade, trimmed to the input's length."""
        return crossfade(windows, self.window_starts, self.input_wav.shape[-1])

    # --- the edit ------------------------------------------------------------------
    sweep = "eta"  # the parameter swept in step 3 (the baselines sweep "strength")
    sweep_key = "etas"  # the hparam that lists its values (the baselines' "strengths", layer's "layer_gains")

    def sweep_values(self) -> List[float]:
        return [float(eta) for eta in self.hparams.etas]

    method = "imagic"  # the hparam ``method`` that runs this editor (``editing/methods.py``)
    trains = True  # steps 1-2 train something: a fit worth storing (the baselines train nothing)
    edit_type = None  # set by each recipe's editor ("addition", ...): what a method may refuse (``layering``)
    scores_span = False  # whether ``score`` gives ``text_clap_span`` (inpainting): what eta_selection text_span reads

    def fit_input(self, wav: torch.Tensor, target_prompt: Optional[str] = None) -> dict:
        """Encode the input [T] (backbone's rate) and run steps 1-2, resuming from ``checkpointer``'s
        checkpoints when there is one. ``target_prompt`` is read only by ``init: target`` (step 1 starts
        from its embedding). Returns the seconds per phase (encode, embedding, finetune)."""
        backbone = self.modules.backbone
        hp = self.hparams
        clock = PhaseClock(self.device)
        self.losses, self.resumed_from = {}, None
        # Encode the input (cached for the fit and every edit of it: the input does not change).
        # The model sees the input at a fixed peak level (one gain for the whole input, so
        # windows keep their relative levels); edits return at the input's level.
        self.wav = wav.cpu()
        peak = float(wav.abs().max())
        self.gain = hp.input_peak / peak if peak > 0 else 1.0
        window = backbone.window_samples
        self.window_starts = window_starts(wav.shape[-1], window, round(hp.window_overlap * window))
        if len(self.window_starts) > 1:
            logger.info(f"editing {wav.shape[-1] / backbone.sample_rate:.2f} s in {len(self.window_starts)} "
                        f"windows of {backbone.window_seconds:g} s")
        with torch.no_grad():
            self.input_wav = wav.to(self.device) * self.gain
            # [n_windows, (channels,) window]: a stereo model's windows keep both channels
            windows = self.cut_windows(backbone.prepare_audio(self.input_wav[None])[0]).movedim(-2, 0)
            self.z0 = torch.cat([backbone.encode_audio(part) for part in windows.split(ENCODE_CHUNK)])
        self.vae_wav = None  # decode(z0), the input's VAE round trip: decoded by the first edit, kept for the next
        clock.lap("encode")
        if self.trains:
            self.run_fit(wav, target_prompt if self.init == "target" else None, clock)
        return clock.laps

    def sample(self, target_prompt: str) -> EditResult:
        """Step 3 on the fitted input: one output per sweep value (``generate``), decoded and scored."""
        backbone = self.modules.backbone
        hp = self.hparams
        clock = PhaseClock(self.device)
        wav = self.wav
        with torch.no_grad():
            e_target = backbone.encode_text([target_prompt])

        # Step 3: sample each eta, score, choose. Latents [n_values, n_windows, ...]; with several inversion
        # strengths one sweep each, and the sweep holding the value the selection rule prefers over all of
        # them is kept
        values = self.sweep_values()
        logger.info(("step 3: sample" if self.trains else f"{self.method}: sample")
                    + f" {len(values)} {self.sweep} values at {hp.sample_steps} steps, score them, choose one")
        text_input = self.input_text_score(wav, target_prompt)
        strengths = inversion_strengths(hp, self.sweep)
        maps = {}  # (source, window) -> its DDPM noise maps: one inversion serves every strength's sweep
        sweeps = [SampleStart(sample_start(hp), strength, inversion_source(hp, self.sweep), maps)
                  for strength in strengths]
        result = None
        for start in sweeps:
            strength = start.strength
            latents = self.generate(values, e_target, start)
            with torch.no_grad():
                decoded = self.decode_windows(latents.flatten(0, 1)).unflatten(0, latents.shape[:2])
                # never louder than full scale (or than the input, a float file over it): not clipped when written
                decoded = limit_outputs(self.join_windows(decoded.movedim(1, -2)).cpu() / self.gain, wav)
            wavs = self.compose(wav, decoded, backbone.sample_rate)
            clock.lap("sampling")

            swept = EditResult(etas=values, wavs=wavs.cpu(), decoded=decoded, latents=latents.cpu(),
                               input_latent=self.z0.cpu(), sample_rate=backbone.sample_rate,
                               window_starts=self.window_starts, sweep=self.sweep, losses=self.losses,
                               resumed_from=self.resumed_from, selection=hp.eta_selection,
                               onset_weight=float(hp.onset_weight))
            swept.scores = self.score(swept.wavs, wav, target_prompt, swept.sample_rate)
            swept.metrics["text_clap_input"] = text_input
            if strength is not None and len(strengths) > 1:
                swept.metrics["inversion_strength"] = strength
            if len(sweeps) > 1:
                logger.info(f"inversion strength {strength:g}: best {self.sweep} "
                            f"{swept.etas[swept.best_index]:g}, text {swept.scores['text_clap'][swept.best_index]:.3f}")
            if result is None or swept.selection_key() > result.selection_key():
                result = swept
            clock.lap("scoring")
        if self.vae_wav is None:
            with torch.no_grad():
                self.vae_wav = self.join_windows(self.decode_windows(self.z0).movedim(0, -2))
        result.metrics.update(self.reconstruction_metrics(self.vae_wav))
        result.wavs = self.with_background(wav.cpu(), result.wavs, backbone.sample_rate)
        clock.lap("scoring")
        result.metrics.update({f"seconds_{name}": round(t, 3) for name, t in clock.laps.items()})
        result.metrics.update({f"steps_{phase}": n for phase, n in self.losses.get("steps", {}).items()})
        result.metrics["unet_compiled"] = is_compiled(backbone.unet)
        return result

    def run_fit(self, wav: torch.Tensor, fit_prompt: Optional[str], clock: PhaseClock) -> None:
        """Steps 1-2 on the encoded input, resuming from checkpoints; ``fit_prompt``: the prompt step 1
        starts from with ``init: target`` (None otherwise). Leaves e_opt in ``self.embedding``."""
        backbone = self.modules.backbone
        hp = self.hparams
        e_init = self.initial_embedding(fit_prompt)
        self.embedding = EmbeddingHolder(e_init.repeat(len(self.window_starts))).to(self.device)
        if hp.ft_mode == "lora":
            backbone.enable_lora(hp.lora_rank, target_modules=hp.lora_targets)
        self.compile_unet()
        ft_params = backbone.trainable_parameters(hp.ft_mode)
        self.emb_optimizer = torch.optim.Adam([self.embedding.hidden], lr=hp.emb_lr)
        lora_lr = hp.lora_lr if hp.ft_mode == "lora" else None
        self.ft_optimizer = torch.optim.Adam(ft_params, lr=hp.ft_lr if lora_lr is None else lora_lr)
        self.progress = EditProgress(hp.seed)
        self.progress.fingerprint = self.fingerprint(wav, fit_prompt)
        self.last_checkpoint = time.monotonic()
        self.resumed_from = self.recover() if self.checkpointer is not None else None
        self.losses = self.progress.losses

        # Step 1: optimise the embedding (UNet frozen)
        backbone.requires_grad_(False)
        self.record_eval_loss("e_init" if self.init != "target" else "e_target",
                              e_init.repeat(len(self.window_starts)))
        self.run_phase("embedding", hp.emb_steps, self.emb_optimizer, lambda: self.embedding.cond(), "e_opt")
        clock.lap("embedding")

        # Step 2: fine-tune the UNet with e_opt (embedding frozen)
        self.embedding.requires_grad_(False)
        for p in ft_params:
            p.requires_grad_(True)
        e_opt = self.embedding.cond().detach()  # [n_windows, ...]
        backbone.unet.train()
        self.run_phase("finetune", hp.ft_steps, self.ft_optimizer, lambda: e_opt, "finetuned")
        backbone.unet.eval()
        backbone.requires_grad_(False)
        clock.lap("finetune")

    def generate(self, etas: List[float], e_target: TextCond, start: SampleStart) -> torch.Tensor:
        """Step 3 of the method from the fit, starting at ``start``: latents [n_eta, n_windows, ...]."""
        return self.sample_edits(etas, e_target, self.embedding.cond().detach(), start)

    @property
    def init(self) -> str:
        """Where step 1 starts (hparam ``init``): ``target`` (the paper: the target prompt's embedding),
        ``empty`` (the empty prompt's) or ``source`` (``source_prompt``'s, a description of the input).
        The last two do not depend on the target prompt; checked by ``checks.check_init``."""
        return self.hparams.init

    @torch.no_grad()
    def initial_embedding(self, target_prompt: Optional[str]) -> TextCond:
        """The embedding step 1 starts from (one row): see ``init`` (``target_prompt``: read by ``target`` only)."""
        prompt = {"target": target_prompt, "empty": "", "source": self.hparams.source_prompt}
        return self.modules.backbone.encode_text([prompt[self.init]])

    def compile_unet(self) -> None:
        """``--compile``: ``torch.compile`` the UNet in place (SpeechBrain's ``compile_mode``,
        ``compile_using_fullgraph`` and ``compile_using_dynamic_shape_tracing`` apply; hparam
        ``compile_backend``, default inductor). Its parameter
        names, checkpoints and adapters stay as they are. Compiling costs time once per shape and
        mode (embedding, fine-tuning, sampling): worth it for long schedules and batch evaluation."""
        unet = self.modules.backbone.unet
        if not self.compile or is_compiled(unet):
            return
        backend = self.hparams.compile_backend
        unet.compile(backend=backend, mode=None if backend != "inductor" else self.compile_mode,
                     fullgraph=self.compile_using_fullgraph, dynamic=self.compile_using_dynamic_shape_tracing)
        logger.info(f"UNet compiled with torch.compile ({backend}, mode {self.compile_mode})")

    @torch.no_grad()
    def decode_windows(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [n_windows, ...] -> waveforms [n_windows, (channels,) window samples] (float32)."""
        return torch.cat([self.modules.backbone.decode(part).float() for part in z.split(ENCODE_CHUNK)])

    @torch.no_grad()
    def reconstruction_metrics(self, vae_wav: torch.Tensor) -> dict:
        """Hook: per-edit reconstruction numbers from ``vae_wav`` [T], decode(encode(input)) at the model's
        rate and level. Here ``vae_mel_snr``, its log-mel SNR to the input (mono mixes): the ceiling for eta=0."""
        logmel = self.modules.backbone.logmel
        return {"vae_mel_snr": mel_snr(logmel(mixdown(vae_wav, 1)[None]),
                                       logmel(mixdown(self.input_wav, 1)[None])).item()}

    @torch.no_grad()
    def eval_loss(self, cond: TextCond, draws: int = 32, seed: int = 0) -> float:
        """The diffusion loss on a fixed set of (window, t, noise) draws: comparable across the steps."""
        generator = torch.Generator().manual_seed(seed)
        draws = max(draws, self.z0.shape[0])
        high = min(self.hparams.t_max, self.modules.backbone.num_train_timesteps)
        t = torch.linspace(self.hparams.t_min - 1, high - 1, draws).round().long()
        batch = self.draws(cond.detach(), torch.arange(draws) % self.z0.shape[0], t, generator)
        with self.evaluation_ctx:
            return self.compute_objectives(self.compute_forward(batch, None), batch, None).item()

    def record_eval_loss(self, name: str, cond: TextCond) -> None:
        """Log the fixed-draw loss once per milestone (kept across resumes)."""
        evals = self.progress.losses["eval"]
        if name not in evals:
            evals[name] = self.eval_loss(cond)
            self.hparams.train_logger.log_stats(stats_meta={"reconstruction loss": name},
                                                train_stats={"loss": evals[name]})

    def run_phase(self, phase: str, steps: int, optimizer, cond_fn, milestone: str) -> None:
        """Optimise ``optimizer``'s parameters for ``steps`` steps of the diffusion loss, checkpointing;
        at the end, record the fixed-draw loss as ``milestone`` and checkpoint (a finished step is never
        run or measured again)."""
        progress = self.progress
        if PHASES.index(progress.phase) > PHASES.index(phase):
            return
        self.optimizers_dict = {phase: optimizer}
        log_every = self.hparams.log_interval
        what = {"embedding": "optimise the text embedding (UNet frozen)",
                "finetune": f"fine-tune the UNet ({self.hparams.ft_mode}) with e_opt"}[phase]
        logger.info(f"step {PHASES.index(phase) + 1}: {what}, {steps} steps"
                    + (f", from step {progress.step}" if progress.step else ""))
        with tqdm(total=steps, initial=progress.step, desc=f"step {PHASES.index(phase) + 1}: {phase}",
                  dynamic_ncols=True, disable=self.noprogressbar) as bar:
            while progress.step < steps:
                loss = self.fit_batch(self.training_draws(phase, progress.step, cond_fn())).item()
                progress.losses[phase].append(loss)
                progress.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                if progress.step % log_every == 0 or progress.step == steps:
                    recent = progress.losses[phase][-log_every:]
                    self.hparams.train_logger.log_stats(
                        stats_meta={"phase": phase, "step": progress.step},
                        train_stats={"loss": sum(recent) / len(recent)})
                if (progress.step % self.ckpt_interval_steps == 0 and progress.step < steps
                        and self.checkpoint_due()):
                    self.save_checkpoint()
        progress.losses.setdefault("steps", {})[phase] = progress.step
        if steps > 0:  # no step taken: the model and condition of the milestone before
            self.record_eval_loss(milestone, cond_fn())
        progress.phase, progress.step = PHASES[PHASES.index(phase) + 1], 0
        self.save_checkpoint()  # whatever the interval

    def checkpoint_due(self) -> bool:
        """At most one checkpoint per ``ckpt_min_minutes`` (0: at every ``ckpt_interval_steps``)."""
        return time.monotonic() - self.last_checkpoint >= 60 * self.hparams.ckpt_min_minutes

    @torch.no_grad()
    def sample_edits(self, etas: List[float], e_target: TextCond, e_opt: TextCond,
                     start: SampleStart = SampleStart()) -> torch.Tensor:
        """Guided sampling, window by window, all etas of a window in one batch, from ``start``
        (``sample_starts``: the window's seeded noise, or the input latent).

        Returns latents [n_eta, n_windows, C, time, freq].
        """
        backbone, hp = self.modules.backbone, self.hparams
        generator = torch.Generator().manual_seed(hp.seed)
        self.noise = torch.randn(self.z0.shape, generator=generator).to(self.device)
        n_windows = self.z0.shape[0]
        bar = tqdm(total=n_windows * hp.sample_steps, desc="step 3: sampling", dynamic_ncols=True,
                   disable=self.noprogressbar)
        added = self.added_condition(etas)
        latents = []
        for window in range(n_windows):
            e_opt_window = e_opt.map(lambda x: x[window: window + 1])
            conds = TextCond.cat([e_opt_window.lerp(e_target, eta) for eta in etas])
            window_scales = torch.full((len(etas), 1, 1, 1), float(hp.guidance_scale), device=self.device)
            z0 = self.z0[window: window + 1]

            def after_step(z, next_t, window=window):
                return self.after_denoise_step(z, next_t, window)

            with self.evaluation_ctx:
                if start.kind == "ddpm_inversion":
                    z = from_inversion(backbone, z0, e_opt_window, conds, window_scales, start, window,
                                       hp.sample_steps, float(hp.guidance_scale),
                                       float(hp.attention_injection), generator, after_step)
                    bar.update(hp.sample_steps)
                elif start.kind == "inversion_free":
                    z = inversion_free(backbone, z0, e_opt_window, conds, window_scales, start.strength,
                                       hp.sample_steps, hp.seed, after_step)
                    bar.update(hp.sample_steps)
                else:  # resample_jumps > 1: a DDIM sampler (check_sampling)
                    z = from_noise(backbone, hp.sampler(backbone.scheduler.config), hp.sample_steps,
                                   self.noise[window: window + 1], conds, window_scales, after_step,
                                   self.resample_jumps, generator, on_step=lambda: bar.update(1), added=added)
            latents.append(z)
        bar.close()
        return torch.stack(latents, dim=1)

    def added_condition(self, etas: List[float]) -> Optional[Tuple[TextCond, torch.Tensor]]:
        """Hook: a condition guided in beside each eta's interpolated embedding from noise, with its weight per
        eta ([n_eta, 1, 1, 1]); None: none (addition's editor guides in the sound to add)."""
        return None

    @property
    def resample_jumps(self) -> int:
        """How many times each step from noise is denoised: once here; inpainting's editor reads
        ``resample_jumps`` (RePaint's resampling)."""
        return 1

    def after_denoise_step(self, z: torch.Tensor, next_t, window: int) -> torch.Tensor:
        """Hook after each sampling step of window ``window`` (``next_t`` is None after the last)."""
        return z

    def compose(self, input_wav: torch.Tensor, wavs: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Hook to combine the decoded edits with the input waveform.

        Called at the model's rate (``input_wav`` [T], ``wavs`` [n_eta, T]: what is scored) and at
        the input file's (``input_wav`` [channels, T], ``wavs`` [n_eta, channels, T]: what is written).
        """
        return wavs

    def with_background(self, input_wav: torch.Tensor, wavs: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``wavs`` (composed, as ``compose``'s) with the share of the input's stationary bed each lost put back
        when ``keep_background`` is set (``editing/background.py``). Applied after scoring: the scores and the
        choice are the edit's own (the scorer's Text falls with a bed the prompt does not name, and the choice
        would then follow the bed rather than the edit)."""
        if self.hparams.keep_background:
            return restore_background(input_wav, wavs, sample_rate)
        return wavs

    def score(self, wavs, input_wav, target_prompt: str, sample_rate: int) -> dict:
        """Text-CLAP, Audio-CLAP, their sum, log-mel SNR and onset F1 to the input, per eta (of mono mixes)."""
        wavs, input_wav = mixdown(wavs, 2), mixdown(input_wav, 1)
        scorer = self.hparams.scorer.to(self.device)
        text = scorer.text_scores(wavs, sample_rate, [target_prompt])
        audio = scorer.audio_scores(wavs, sample_rate, input_wav[None])
        logmel = self.modules.backbone.logmel
        snr = mel_snr(logmel(wavs), logmel(input_wav[None])).cpu()
        return {"text_clap": text.tolist(), "audio_clap": audio.tolist(), "sum": (text + audio).tolist(),
                "mel_snr_to_input": snr.tolist(), "onset_f1": onset_f1(input_wav, wavs, sample_rate)}

    def input_text_score(self, wav: torch.Tensor, target_prompt: str) -> float:
        """Text score of the input itself: what an edit's Text is compared with (``text_clap_input``)."""
        return self.hparams.scorer.text_scores(mixdown(wav, 1).cpu()[None], self.modules.backbone.sample_rate,
                                               [target_prompt]).item()

    # --- checkpoints ---------------------------------------------------------------
    def identity(self, wav: torch.Tensor, target_prompt: Optional[str]) -> dict:
        """What the checkpoints are trained for (``checkpoints.fit_identity``): the model input, the prompt (left
        out when None: a fit whose ``init`` does not read it), the fit settings. A hook: inpainting adds its span."""
        return fit_identity(self.hparams, self.init, wav, target_prompt)

    def fingerprint(self, wav: torch.Tensor, target_prompt: Optional[str]) -> str:
        """A short hash of ``identity``: stored with every checkpoint."""
        return fit_fingerprint(self.identity(wav, target_prompt))

    def recover(self) -> Optional[str]:
        """Load the latest complete checkpoint of this edit (``check_resumable`` has vetted it)."""
        checkpointer = self.checkpointer
        for folder in Path(checkpointer.checkpoints_dir).glob("CKPT*"):
            if not (folder / COMPLETE).exists():  # a save cut short by a kill
                shutil.rmtree(folder)
        progress = self.progress
        for name, obj in (("embedding", self.embedding),
                          ("unet", TrainableUNetState(self.modules.backbone.unet, self.hparams.ft_mode, progress)),
                          ("emb_optimizer", OptimizerState(self.emb_optimizer, "embedding", progress)),
                          ("ft_optimizer", OptimizerState(self.ft_optimizer, "finetune", progress)),
                          ("progress", progress)):
            checkpointer.add_recoverable(name, obj)
        if checkpointer.recover_if_possible() is None:
            return None
        if progress.phase == "done":
            where = "done"
            logger.info(f"steps 1-2 loaded from {checkpointer.checkpoints_dir} (fit settings unchanged); "
                        "sampling only")
        else:
            where = f"{progress.phase} step {progress.step}"
            logger.info(f"resumed from checkpoint at {where}")
        self.hparams.train_logger.log_stats(stats_meta={"resumed_from": where}, train_stats=None)
        return where

    def save_checkpoint(self) -> None:
        """Save, mark the folder complete, then drop the older checkpoint (a kill at any point leaves
        one complete checkpoint). Nothing without a checkpointer (a fit kept in memory)."""
        self.last_checkpoint = time.monotonic()
        if self.checkpointer is None:
            return
        checkpoint = self.checkpointer.save_checkpoint(
            meta={"fingerprint": self.progress.fingerprint, "phase": self.progress.phase,
                  "step": self.progress.step}, verbosity=logging.DEBUG)
        atomic_write(checkpoint.path / COMPLETE, lambda tmp: Path(tmp).write_text(""))
        self.checkpointer.delete_checkpoints(num_to_keep=1, verbosity=logging.DEBUG)
