"""The edit types' editors: each recipe's hooks on the shared editor (``ImagicEditor``), named per edit type by
the registry (``editing/edit_types.py``). Style transfer and removal need nothing beyond the shared editor and
their hparams: the prompt carries the whole new scene. Addition can also guide in the sound to add.

Inpainting: fill a blank span of a recording with the sound a prompt describes.

The span is given in seconds (--mask_start, --mask_end) or found as the longest run
of digital silence. Steps 1-2 fit only the observed audio (the loss ignores the
span); step 3 generates the span while the observed latent frames are held to the
input's (noised to each step's level); the output keeps every sample outside the
span bit-identical to the input file, in every channel and at its own sample rate.
A long input is edited in windows; the span is mapped onto each window's latent frames.

With ``free_eta0_check`` the editor also samples eta=0 twice more, and reports how well
steps 1-2 alone reconstruct the observed audio, next to the VAE's ``vae_mel_snr_observed``
(the edits match the input outside the span by construction, so they cannot show it):
``eta0_free_mel_snr_observed`` holds nothing, so the model also chooses what sounds in the
span, and that choice can change the observed audio around it; ``eta0_span_held_mel_snr_observed``
holds the span's latent frames to the input's (as they were in steps 1-2) and generates the
observed audio, which measures the fit of steps 1-2 alone.
"""

import torch

from audio_editing.data.audio import digital_silence_span
from audio_editing.editing.added_sound import sound_to_add
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.errors import UserError
from audio_editing.evaluation.metrics import mel_snr


class AdditionEditor(ImagicEditor):
    """Addition: the prompt carries the whole new scene; with ``added_guidance`` > 0 step 3 from noise also guides
    in the sound the input lacks (``added_prompt``, else the part of the prompt the input matches least:
    ``editing/added_sound.py``) beside each eta's interpolated embedding, at ``added_guidance`` x eta x
    ``guidance_scale`` (composable diffusion, Liu et al. 2022). The weight is 0 at eta=0, which still
    reconstructs the input (off by default: docs/experiments/2026-12-07-addition-composed-guidance)."""

    edit_type = "addition"
    HPARAMS_NEEDED = ("added_guidance", "added_prompt")

    def sample(self, target_prompt: str):
        # the layer, the baselines and the starts from the input guide nothing in
        guided = self.method == "imagic" and self.hparams.added_guidance and self.hparams.sample_start == "noise"
        prompt = sound_to_add(self, target_prompt) if guided else None
        with torch.no_grad():
            self.added_cond = None if prompt is None else self.modules.backbone.encode_text([prompt])
        result = super().sample(target_prompt)
        if prompt is not None:
            result.metrics["added_prompt"] = prompt
        return result

    def added_condition(self, etas):
        if self.added_cond is None:
            return None
        weights = float(self.hparams.added_guidance) * torch.tensor(etas, dtype=torch.float32)
        return self.added_cond, weights.view(-1, 1, 1, 1).to(self.device)


class StyleTransferEditor(ImagicEditor):
    """Style transfer needs nothing beyond the shared editor and its hparams: eta trades the input's timbre for
    the prompt's."""

    edit_type = "style_transfer"


class RemovalEditor(ImagicEditor):
    """Removal needs nothing beyond the shared editor and its hparams: the prompt carries the whole new scene."""

    edit_type = "removal"


class InpaintingEditor(ImagicEditor):
    """Masked loss, masked sampling and compositing, span scores; everything else is the shared editor."""

    edit_type = "inpainting"
    scores_span = True  # text_clap_span: the Text score of the filled span alone
    HPARAMS_NEEDED = ("mask_start", "mask_end", "min_gap_seconds", "fade_seconds", "free_eta0_check", "resample_jumps")

    @property
    def resample_jumps(self) -> int:
        """How many times each step from noise is denoised (``resample_jumps``; RePaint's resampling, Lugmayr et
        al. 2022): between two, the step's output is noised back to the step's level, so the generated frames
        are denoised again beside the held ones. 1: once, plain replacement."""
        return int(self.hparams.resample_jumps)

    def check_input(self, wav, clip):
        hp = self.hparams
        if hp.mask_start is None and hp.mask_end is None:
            # found on the file as read: resampling would blur the gap's edges
            span = digital_silence_span(clip.samples, clip.sample_rate, hp.min_gap_seconds)
            if span is None:
                raise UserError(f"no blank span (>= {hp.min_gap_seconds:g} s of digital silence) found in "
                                "the input; give the span with --mask_start and --mask_end in seconds")
        elif hp.mask_start is None or hp.mask_end is None:
            raise UserError("give both --mask_start and --mask_end (seconds), or neither to detect the gap")
        else:
            span = (float(hp.mask_start), float(hp.mask_end))
        seconds = clip.seconds
        if not 0 <= span[0] < span[1] <= seconds + 1e-9:
            raise UserError(f"the span [{span[0]:g}, {span[1]:g}] s is empty or outside the clip "
                            f"(0 to {seconds:.2f} s); choose 0 <= mask_start < mask_end <= {seconds:.2f}")
        self.span = span
        return wav

    def identity(self, wav, target_prompt):
        return {**super().identity(wav, target_prompt), "span_seconds": list(self.span)}  # the loss ignores it

    def masks(self, sample_rate, length):
        """(keep, fill_gain) [length] at ``sample_rate``: keep is 1 outside the span; the generated
        audio fades in and out inside the span, so its edges do not click."""
        start, end = round(self.span[0] * sample_rate), min(round(self.span[1] * sample_rate), length)
        keep = torch.ones(length)
        keep[start:end] = 0.0
        fill_gain = 1.0 - keep
        fade = min(round(self.hparams.fade_seconds * sample_rate), (end - start) // 2)
        if fade > 0:
            ramp = torch.linspace(0.0, 1.0, fade + 2)[1:-1]
            fill_gain[start:start + fade] = ramp
            fill_gain[end - fade:end] = ramp.flip(0)
        return keep, fill_gain

    def latent_keep(self, windows, shape, inside_span=False):
        """[n, 1, time, 1] latent mask of each window in ``windows``: 1 where a frame is fully observed
        (``inside_span``: 1 where a frame lies wholly inside the span)."""
        keep, _ = self.masks(self.modules.backbone.sample_rate, self.input_wav.shape[-1])
        keep = self.cut_windows(keep, pad_value=1.0)[windows]  # padding past the end counts as observed
        if inside_span:
            keep = 1 - keep
        return self.modules.backbone.latent_time_mask(keep.to(self.device), shape)

    def loss_weight(self, shape, windows):
        return self.latent_keep(windows, shape)

    def after_denoise_step(self, z, next_t, window):
        if self.hold == "none":
            return z
        keep = self.latent_keep([window], z.shape, inside_span=self.hold == "span")
        known = self.z0[window: window + 1]
        if next_t is not None:
            known = self.modules.backbone.add_noise(known, self.noise[window: window + 1], next_t.reshape(1))
        return keep * known + (1 - keep) * z

    def compose(self, input_wav, wavs, sample_rate):
        keep, gain = self.masks(sample_rate, input_wav.shape[-1])
        keep, gain = keep.to(wavs).bool(), gain.to(wavs)
        mixed = input_wav * (1 - gain) + wavs * gain
        return torch.where(keep, input_wav.expand_as(wavs), mixed)

    def score(self, wavs, input_wav, target_prompt, sample_rate):
        """The shared scores, plus the Text score of the filled span alone (the observed audio dominates the rest)."""
        scores = super().score(wavs, input_wav, target_prompt, sample_rate)
        start, end = (round(s * sample_rate) for s in self.span)
        scores["text_clap_span"] = self.hparams.scorer.text_scores(wavs[:, start:end], sample_rate,
                                                                   [target_prompt]).tolist()
        return scores

    hold = "observed"  # the latent frames held to the input's in sampling: observed | span | none
    checks = None  # the eta=0 checks' samples {"free": [T], "span_held": [T]}; baselines have none

    def generate(self, etas, e_target, start):
        latents = super().generate(etas, e_target, start)
        self.checks = None
        if self.hparams.free_eta0_check:
            self.checks, e_opt = {}, self.embedding.cond().detach()
            for name, hold in (("free", "none"), ("span_held", "span")):
                self.hold = hold
                try:
                    sample = self.sample_edits([0.0], e_target, e_opt, start)[0]
                finally:
                    self.hold = "observed"
                self.checks[name] = self.join_windows(self.decode_windows(sample))
        return latents

    def observed_frames(self, frames: int) -> torch.Tensor:
        """[frames] bool: the log-mel frames whose analysis window lies wholly outside the span."""
        logmel = self.modules.backbone.logmel
        start, end = (s * logmel.sample_rate for s in self.span)
        centres = torch.arange(frames) * logmel.hop_length
        return (centres + logmel.n_fft / 2 <= start) | (centres - logmel.n_fft / 2 >= end)

    @torch.no_grad()
    def observed_mel_snr(self, wav: torch.Tensor) -> float:
        """Log-mel SNR of ``wav`` [T] (the model's rate and level) to the input, over the observed frames."""
        logmel = self.modules.backbone.logmel
        estimate, reference = logmel(wav[None].to(self.device)), logmel(self.input_wav[None])
        keep = self.observed_frames(reference.shape[1]).to(reference.device)
        if not keep.any():
            return float("nan")
        return mel_snr(estimate[:, keep], reference[:, keep]).item()

    def reconstruction_metrics(self, vae_wav):
        metrics = super().reconstruction_metrics(vae_wav)
        if self.checks is not None:
            metrics["eta0_free_mel_snr_observed"] = self.observed_mel_snr(self.checks["free"])
            metrics["eta0_span_held_mel_snr_observed"] = self.observed_mel_snr(self.checks["span_held"])
            metrics["vae_mel_snr_observed"] = self.observed_mel_snr(vae_wav)
        return metrics

    def sample(self, target_prompt):
        result = super().sample(target_prompt)
        result.metrics["span_seconds"] = self.span
        return result
