"""The three-step editor (Imagic for audio LDMs, Paissan et al. 2023), one Brain for every recipe.

1. Optimise the text embedding e so the frozen model reconstructs the input latent.
2. Fine-tune the UNet (fully or with LoRA) with that embedding e_opt.
3. Sample with e_int = eta * e_target + (1 - eta) * e_opt for each eta; score each
   edit (Text-CLAP vs the target prompt + Audio-CLAP vs the input) and keep the best.

Recipes subclass ``ImagicEditor`` only where their edit type differs (inpainting
overrides ``loss_weight``, ``after_denoise_step`` and ``compose``). The baselines
(``editing/baselines.py``) replace steps 2-4 (``generate``) and keep the rest.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from tqdm.auto import tqdm

from audio_editing.backbones.base import TextCond
from audio_editing.evaluation.metrics import mel_snr, onset_f1

logger = logging.getLogger(__name__)

PHASES = ("embedding", "finetune", "done")


class PhaseClock:
    """Wall time per phase (synchronising the GPU so that each phase's kernels count to it)."""

    def __init__(self, device):
        self.cuda = str(device).startswith("cuda")
        self.laps, self.last = {}, time.perf_counter()

    def lap(self, name: str) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now


class EmbeddingHolder(torch.nn.Module):
    """The optimised text embedding e_opt as a parameter (initialised from e_target)."""

    def __init__(self, cond: TextCond):
        super().__init__()
        self.hidden = torch.nn.Parameter(cond.hidden.detach().clone())
        self.register_buffer("mask", None if cond.mask is None else cond.mask.clone())

    def cond(self) -> TextCond:
        return TextCond(self.hidden, self.mask)


@register_checkpoint_hooks
class EditProgress:
    """Which phase the edit is in and how many of its steps are done (checkpointed)."""

    def __init__(self):
        self.phase, self.step, self.fingerprint = "embedding", 0, ""
        # Per-step training losses, and the fixed-draw reconstruction loss at each milestone.
        self.losses = {"embedding": [], "finetune": [], "eval": {}}

    @mark_as_saver
    def _save(self, path):
        torch.save({"phase": self.phase, "step": self.step, "fingerprint": self.fingerprint,
                    "losses": self.losses}, path)

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        state = torch.load(path)
        self.phase, self.step = state["phase"], state["step"]
        self.fingerprint, self.losses = state["fingerprint"], state["losses"]


@register_checkpoint_hooks
class TrainableUNetState:
    """Checkpoints only what step 2 trains: the LoRA adapter, or the whole UNet when fully fine-tuned.

    A fully fine-tuned UNet is written only once step 2 has changed it (``changed()``): before
    that it equals the pretrained one, and for a TANGO-size model the copy is 3.5 GB.
    """

    def __init__(self, unet, mode: str, changed=lambda: True):
        self.unet, self.mode, self.changed = unet, mode, changed

    def state_dict(self):
        if self.mode == "lora":
            from peft import get_peft_model_state_dict

            return get_peft_model_state_dict(self.unet)
        return self.unet.state_dict() if self.changed() else {}

    @mark_as_saver
    def _save(self, path):
        torch.save(self.state_dict(), path)

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        state = torch.load(path, map_location="cpu")
        if self.mode == "lora":
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.unet, state)
        elif state:  # empty: saved before step 2 changed anything
            self.unet.load_state_dict(state)


@dataclass
class EditResult:
    """What one edit produced: one waveform and one score row per sweep value (eta, or a baseline's strength)."""

    etas: List[float]  # the sweep values
    wavs: torch.Tensor  # [n_eta, T] at sample_rate
    latents: torch.Tensor  # [n_eta, C, time, freq]
    input_latent: torch.Tensor
    sample_rate: int
    sweep: str = "eta"  # what ``etas`` are: "eta" (the method) or "strength" (the baselines)
    scores: dict = field(default_factory=dict)  # column -> list per eta
    metrics: dict = field(default_factory=dict)  # per-edit numbers (e.g. the VAE's own reconstruction)
    losses: dict = field(default_factory=dict)
    resumed_from: Optional[str] = None
    folder: Optional[Path] = None  # where the outputs were written

    @property
    def best_index(self) -> int:
        total = self.scores["sum"]
        return max(range(len(total)), key=lambda i: total[i])


class ImagicEditor(sb.Brain):
    """Text-prompted audio editing by embedding optimisation, fine-tuning and interpolation.

    Modules: ``backbone`` (an ``audio_editing.backbones.base.Backbone``).
    Hparams used: ``emb_steps``, ``emb_lr``, ``ft_steps``, ``ft_lr``, ``ft_mode`` (full | lora),
    ``lora_rank``, ``loss_batch`` (timesteps drawn per optimisation step), ``t_min``, ``t_max``,
    ``sample_steps``, ``guidance_scale``, ``sampler``, ``seed``, ``ckpt_interval_steps``,
    ``ckpt_min_minutes``,
    ``log_interval``, ``input_peak`` (the peak level the model sees; outputs are scaled back),
    ``scorer`` (an ``AudioTextScorer``), ``train_logger``.
    """

    # --- the loss shared by steps 1 and 2 ----------------------------------------
    def compute_forward(self, batch, stage):
        """Noise the input latent at ``loss_batch`` random timesteps and predict the training target."""
        z0, cond = batch
        backbone = self.modules.backbone
        n = self.hparams.loss_batch
        z0 = z0.expand(n, *z0.shape[1:])
        high = min(self.hparams.t_max, backbone.num_train_timesteps)
        t = torch.randint(self.hparams.t_min - 1, high, (n,), device=z0.device)
        noise = torch.randn_like(z0)
        prediction = backbone.predict(backbone.add_noise(z0, noise, t), t, cond.repeat(n))
        return prediction, backbone.training_target(z0, noise, t)

    def compute_objectives(self, predictions, batch, stage):
        prediction, target = predictions
        error = (prediction.float() - target.float()) ** 2
        weight = self.loss_weight(error.shape)
        if weight is None:
            return error.mean()
        return (error * weight).sum() / (weight.expand_as(error).sum() + 1e-8)

    def check_input(self, wav: torch.Tensor) -> torch.Tensor:
        """Hook run before anything is written: raise ``UserError`` for input this edit type cannot take."""
        return wav

    def loss_weight(self, shape) -> Optional[torch.Tensor]:
        """Per-latent-element weight of the reconstruction loss (None: uniform)."""
        return None

    # --- the edit ------------------------------------------------------------------
    sweep = "eta"  # the parameter swept in step 3 (the baselines sweep "strength")

    def sweep_values(self) -> List[float]:
        return [float(eta) for eta in self.hparams.etas]

    def edit(self, wav: torch.Tensor, target_prompt: str) -> EditResult:
        """Edit one waveform [T] at the backbone's rate: one output per sweep value, scored."""
        backbone = self.modules.backbone
        clock = PhaseClock(self.device)
        self.losses, self.resumed_from = {}, None
        # 1. Encode (cached for the whole edit: neither the input nor the prompt changes).
        # The model sees the input at a fixed peak level; edits return at the input's level.
        peak = float(wav.abs().max())
        self.gain = self.hparams.input_peak / peak if peak > 0 else 1.0
        with torch.no_grad():
            self.input_wav = wav.to(self.device) * self.gain
            self.z0 = backbone.encode_audio(backbone.prepare_audio(self.input_wav)[None])
            e_target = backbone.encode_text([target_prompt])
        clock.lap("encode")

        # 2.-4. The method's own steps: one latent per sweep value
        values = self.sweep_values()
        latents = self.generate(values, wav, target_prompt, e_target, clock)
        with torch.no_grad():
            wavs = backbone.decode(latents)[:, : wav.shape[-1]].float().cpu() / self.gain
        wavs = self.compose(wav.cpu(), wavs)
        clock.lap("sampling")

        # 5. Score
        result = EditResult(etas=values, wavs=wavs.cpu(), latents=latents.cpu(), input_latent=self.z0.cpu(),
                            sample_rate=backbone.sample_rate, sweep=self.sweep, losses=self.losses,
                            resumed_from=self.resumed_from)
        result.scores = self.score(result.wavs, wav.cpu(), target_prompt, result.sample_rate)
        result.metrics["vae_mel_snr"] = self.vae_reconstruction_snr()
        clock.lap("scoring")
        result.metrics.update({f"seconds_{name}": round(t, 3) for name, t in clock.laps.items()})
        return result

    def generate(self, etas: List[float], wav: torch.Tensor, target_prompt: str, e_target: TextCond,
                 clock: PhaseClock) -> torch.Tensor:
        """Steps 2-4 of the method, resuming from checkpoints: the edited latents, one per eta."""
        backbone = self.modules.backbone
        hp = self.hparams
        self.embedding = EmbeddingHolder(e_target).to(self.device)
        if hp.ft_mode == "lora":
            backbone.enable_lora(hp.lora_rank)
        ft_params = backbone.trainable_parameters(hp.ft_mode)
        self.emb_optimizer = torch.optim.Adam([self.embedding.hidden], lr=hp.emb_lr)
        self.ft_optimizer = torch.optim.Adam(ft_params, lr=hp.ft_lr)
        self.progress = EditProgress()
        self.progress.fingerprint = self.fingerprint(wav, target_prompt)
        self.last_checkpoint = time.monotonic()
        self.resumed_from = self.recover()
        self.losses = self.progress.losses

        # 2. Optimise the embedding (UNet frozen)
        backbone.requires_grad_(False)
        self.record_eval_loss("e_target", e_target)
        self.run_phase("embedding", hp.emb_steps, self.emb_optimizer, lambda: self.embedding.cond())
        self.record_eval_loss("e_opt", self.embedding.cond())
        clock.lap("embedding")

        # 3. Fine-tune the UNet with e_opt (embedding frozen)
        self.embedding.requires_grad_(False)
        for p in ft_params:
            p.requires_grad_(True)
        e_opt = self.embedding.cond().detach()
        backbone.unet.train()
        self.run_phase("finetune", hp.ft_steps, self.ft_optimizer, lambda: e_opt)
        backbone.unet.eval()
        self.record_eval_loss("finetuned", e_opt)
        clock.lap("finetune")

        # 4. Sample per eta
        return self.sample_edits(etas, e_target, e_opt)

    @torch.no_grad()
    def vae_reconstruction_snr(self) -> float:
        """Log-mel SNR of decode(encode(input)): the ceiling for any reconstruction at eta=0."""
        backbone = self.modules.backbone
        wav = backbone.decode(self.z0)[:, : self.input_wav.shape[-1]].float()
        return mel_snr(backbone.logmel(wav), backbone.logmel(self.input_wav[None])).item()

    @torch.no_grad()
    def eval_loss(self, cond: TextCond, draws: int = 32, seed: int = 0) -> float:
        """The diffusion loss on a fixed set of (t, noise) draws: comparable across the steps."""
        generator = torch.Generator().manual_seed(seed)
        backbone = self.modules.backbone
        z0 = self.z0.expand(draws, *self.z0.shape[1:])
        t = torch.linspace(self.hparams.t_min - 1, min(self.hparams.t_max, backbone.num_train_timesteps) - 1,
                           draws).round().long().to(self.device)
        noise = torch.randn(z0.shape, generator=generator).to(self.device)
        prediction = backbone.predict(backbone.add_noise(z0, noise, t), t, cond.detach().repeat(draws))
        return self.compute_objectives((prediction, backbone.training_target(z0, noise, t)), None, None).item()

    def record_eval_loss(self, name: str, cond: TextCond) -> None:
        """Log the fixed-draw loss once per milestone (kept across resumes)."""
        evals = self.progress.losses["eval"]
        if name not in evals:
            evals[name] = self.eval_loss(cond)
            self.hparams.train_logger.log_stats(stats_meta={"reconstruction loss": name},
                                                train_stats={"loss": evals[name]})

    def run_phase(self, phase: str, steps: int, optimizer, cond_fn) -> None:
        """Optimise ``optimizer``'s parameters for ``steps`` steps of the diffusion loss, checkpointing."""
        progress = self.progress
        if PHASES.index(progress.phase) > PHASES.index(phase):
            return
        self.optimizers_dict = {phase: optimizer}
        log_every = self.hparams.log_interval
        with tqdm(total=steps, initial=progress.step, desc=f"step {PHASES.index(phase) + 1}: {phase}",
                  dynamic_ncols=True, disable=self.noprogressbar) as bar:
            while progress.step < steps:
                loss = self.fit_batch((self.z0, cond_fn())).item()
                progress.losses[phase].append(loss)
                progress.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                if progress.step % log_every == 0 or progress.step == steps:
                    recent = progress.losses[phase][-log_every:]
                    self.hparams.train_logger.log_stats(
                        stats_meta={"phase": phase, "step": progress.step},
                        train_stats={"loss": sum(recent) / len(recent)})
                if (progress.step % self.hparams.ckpt_interval_steps == 0 and progress.step < steps
                        and self.checkpoint_due()):
                    self.save_checkpoint()
        progress.phase, progress.step = PHASES[PHASES.index(phase) + 1], 0
        if phase == "embedding" or self.checkpoint_due():  # the end of step 1 is cheap to keep
            self.save_checkpoint()

    def checkpoint_due(self) -> bool:
        """At most one checkpoint per ``ckpt_min_minutes`` (0: at every ``ckpt_interval_steps``)."""
        return time.monotonic() - self.last_checkpoint >= 60 * self.hparams.ckpt_min_minutes

    @torch.no_grad()
    def sample_edits(self, etas: List[float], e_target: TextCond, e_opt: TextCond) -> torch.Tensor:
        """Guided sampling for all etas in one batch, from the same seeded noise."""
        backbone, hp = self.modules.backbone, self.hparams
        conds = TextCond.cat([e_opt.lerp(e_target, eta) for eta in etas])
        both = TextCond.cat([backbone.null_cond(conds), conds])
        sampler = hp.sampler(backbone.scheduler.config)
        sampler.set_timesteps(hp.sample_steps, device=self.device)
        generator = torch.Generator().manual_seed(hp.seed)
        self.noise = torch.randn(self.z0.shape, generator=generator).to(self.device)
        z = (self.noise * sampler.init_noise_sigma).repeat(len(etas), 1, 1, 1)
        timesteps = sampler.timesteps
        with self.evaluation_ctx:
            for i, t in enumerate(tqdm(timesteps, desc="step 3: sampling", dynamic_ncols=True,
                                       disable=self.noprogressbar)):
                model_in = sampler.scale_model_input(torch.cat([z, z]), t)
                uncond, cond = backbone.predict(model_in, t, both).float().chunk(2)
                guided = uncond + hp.guidance_scale * (cond - uncond)
                z = sampler.step(guided, t, z).prev_sample
                next_t = timesteps[i + 1] if i + 1 < len(timesteps) else None
                z = self.after_denoise_step(z, next_t)
        return z

    def after_denoise_step(self, z: torch.Tensor, next_t) -> torch.Tensor:
        """Hook after each sampling step (``next_t`` is None after the last)."""
        return z

    def compose(self, input_wav: torch.Tensor, wavs: torch.Tensor) -> torch.Tensor:
        """Hook to combine the decoded edits with the input waveform."""
        return wavs

    def score(self, wavs, input_wav, target_prompt: str, sample_rate: int) -> dict:
        """Text-CLAP, Audio-CLAP, their sum, log-mel SNR and onset F1 to the input, per eta."""
        scorer = self.hparams.scorer.to(self.device)
        text = scorer.text_scores(wavs, sample_rate, [target_prompt])
        audio = scorer.audio_scores(wavs, sample_rate, input_wav[None])
        logmel = self.modules.backbone.logmel
        snr = mel_snr(logmel(wavs), logmel(input_wav[None])).cpu()
        return {"text_clap": text.tolist(), "audio_clap": audio.tolist(), "sum": (text + audio).tolist(),
                "mel_snr_to_input": snr.tolist(), "onset_f1": onset_f1(input_wav, wavs, sample_rate)}

    # --- checkpoints ---------------------------------------------------------------
    def fingerprint(self, wav: torch.Tensor, target_prompt: str) -> str:
        """Identifies what the checkpoints were trained for: input, prompt and training settings."""
        hp = self.hparams
        settings = [target_prompt, hp.emb_steps, hp.emb_lr, hp.ft_steps, hp.ft_lr, hp.ft_mode,
                    getattr(hp, "lora_rank", None), hp.loss_batch, hp.seed, getattr(hp, "backbone_source", "")]
        digest = hashlib.sha256(wav.cpu().numpy().tobytes())
        digest.update(repr(settings).encode())
        return digest.hexdigest()[:16]

    def recover(self) -> Optional[str]:
        """Load the latest checkpoint of this edit (``check_resumable`` has vetted it)."""
        checkpointer = self.checkpointer
        progress = self.progress
        unet_changed = lambda: progress.phase == "done" or (progress.phase == "finetune" and progress.step > 0)  # noqa: E731
        for name, obj in (("embedding", self.embedding), ("unet", TrainableUNetState(
                self.modules.backbone.unet, self.hparams.ft_mode, unet_changed)), ("emb_optimizer", self.emb_optimizer),
                ("ft_optimizer", self.ft_optimizer), ("progress", self.progress)):
            checkpointer.add_recoverable(name, obj)
        if checkpointer.recover_if_possible() is None:
            return None
        where = f"{self.progress.phase} step {self.progress.step}"
        logger.info(f"resumed from checkpoint at {where}")
        self.hparams.train_logger.log_stats(stats_meta={"resumed_from": where}, train_stats=None)
        return where

    def save_checkpoint(self) -> None:
        self.last_checkpoint = time.monotonic()
        self.checkpointer.save_and_keep_only(
            meta={"fingerprint": self.progress.fingerprint, "phase": self.progress.phase,
                  "step": self.progress.step}, num_to_keep=1)


def check_resumable(save_folder, fingerprint: str) -> None:
    """Refuse a checkpoint folder that holds another edit (without writing anything)."""
    import yaml

    from audio_editing.errors import UserError

    for meta_file in Path(save_folder).glob("CKPT*/CKPT.yaml"):
        meta = yaml.safe_load(meta_file.read_text()) or {}
        if meta.get("fingerprint") != fingerprint:
            raise UserError(f"'{save_folder}' holds checkpoints of a different edit (other input, prompt or "
                            "training settings); pass another --output_folder or --edit_id, or delete it")
