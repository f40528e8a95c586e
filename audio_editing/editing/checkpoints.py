"""What makes a fit (steps 1-2) resumable and reusable: its identity and fingerprint, and its checkpoints.

A fit is identified by the model input, the target prompt (with ``init: target``) and the fit settings
(``FIT_KEYS``); the short hash of that identity (``fit_fingerprint``) is stored with every checkpoint, so a folder
holding another fit is refused (``check_resumable``) and a finished one is found (``finished_fit``). The
checkpoint adapters keep only what a resume needs: the phase and step with the generator of the training
draws (``EditProgress``), what step 2 trains (``TrainableUNetState``), and an optimiser's state while its
step is unfinished (``OptimizerState``). A checkpoint folder is complete once ``COMPLETE`` is written into it.
"""

import hashlib
import json
from pathlib import Path
from typing import Optional

import torch
import yaml
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks

from audio_editing.errors import UserError

PHASES = ("embedding", "finetune", "done")
# What steps 1-2 fit, besides the input and the target prompt (e_opt starts from its embedding):
# a rerun that changes one of these fits again. Every other hparam (etas, sample_steps,
# guidance_scale, eta_selection, the scorer, ...) is read by
# step 3 only: a rerun that changes only those samples from the finished fit. Checkpoint and log
# intervals and the run options (device, precision, compile) are neither.
FIT_KEYS = ("backbone", "backbone_source", "init", "source_prompt", "emb_steps", "emb_lr", "ft_steps", "ft_lr", "ft_mode", "lora_rank",
            "lora_targets", "lora_lr", "loss_batch", "t_min", "t_max", "seed", "input_peak",
            "window_overlap")
# Fit settings since removed (early stopping, never adopted: docs/speed/README.md), in the identity at the only
# values they could still have, so that earlier folders keep resuming and reusing their fits.
RETIRED_FIT_SETTINGS = {"early_stop_interval": 0, "early_stop_patience": 2, "early_stop_min_delta": 0.01,
                        "early_stop_draws": 16}
# Fit settings added after edit folders existed: left out of the identity at these values, so that
# earlier folders keep resuming and reusing their fits.
FIT_DEFAULTS = {"init": "target", "source_prompt": None}
COMPLETE = "COMPLETE"  # written last into a checkpoint folder: a folder without it was cut short


def fit_identity(hparams, init: str, wav: torch.Tensor, target_prompt: Optional[str]) -> dict:
    """What a fit's checkpoints are trained for: the model input ``wav``, the prompt (left out when None: a fit
    whose ``init`` does not read it), the fit settings of ``hparams`` (``FIT_KEYS``)."""
    settings = {**{key: getattr(hparams, key, None) for key in FIT_KEYS}, **RETIRED_FIT_SETTINGS}
    if init != "source":
        settings["source_prompt"] = None  # unused: does not make another fit
    settings = {key: value for key, value in settings.items()
                if key not in FIT_DEFAULTS or value != FIT_DEFAULTS[key]}
    identity = {"input_sha256": hashlib.sha256(wav.cpu().numpy().tobytes()).hexdigest()[:16],
                **({} if target_prompt is None else {"target_prompt": target_prompt}), **settings}
    return json.loads(json.dumps(identity, default=str))  # as it reads back from edit.json


def fit_fingerprint(identity: dict) -> str:
    """A short hash of a fit's ``identity``: stored with every checkpoint.

    Example
    -------
    >>> fit_fingerprint({"input_sha256": "0123456789abcdef", "seed": 1234})
    '629f9f7c59af0fef'
    """
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_resumable(save_folder, fingerprint: str) -> None:
    """Refuse a checkpoint folder that holds another edit (without writing anything)."""
    for meta_file in Path(save_folder).glob("CKPT*/CKPT.yaml"):
        if not (meta_file.parent / COMPLETE).exists():
            continue  # cut short by a kill: removed when the edit starts
        meta = yaml.safe_load(meta_file.read_text()) or {}
        if meta.get("fingerprint") != fingerprint:
            raise UserError(f"'{save_folder}' holds checkpoints of a different edit (other input, prompt or "
                            "training settings); pass another --output_folder or --edit_id, or delete it")


def finished_fit(folder, fingerprint: str) -> bool:
    """Whether ``folder`` holds the complete end-of-step-2 checkpoint of the fit ``fingerprint``."""
    for meta_file in Path(folder, "save").glob("CKPT*/CKPT.yaml"):
        meta = yaml.safe_load(meta_file.read_text()) or {}
        if (meta_file.parent / COMPLETE).exists() and meta.get("phase") == "done" \
                and meta.get("fingerprint") == fingerprint:
            return True
    return False


@register_checkpoint_hooks
class EditProgress:
    """Which phase the edit is in, how many of its steps are done, and the state of the generator
    of the training draws (checkpointed: a resumed run draws what an uninterrupted one would)."""

    def __init__(self, seed: int):
        self.phase, self.step, self.fingerprint = "embedding", 0, ""
        self.generator = torch.Generator().manual_seed(seed)
        # Per-step training losses, and the fixed-draw reconstruction loss at each milestone.
        self.losses = {"embedding": [], "finetune": [], "eval": {}}

    @mark_as_saver
    def _save(self, path):
        torch.save({"phase": self.phase, "step": self.step, "fingerprint": self.fingerprint,
                    "losses": self.losses, "generator": self.generator.get_state()}, path)

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        state = torch.load(path)
        self.phase, self.step = state["phase"], state["step"]
        self.fingerprint, self.losses = state["fingerprint"], state["losses"]
        self.generator.set_state(state["generator"])


@register_checkpoint_hooks
class TrainableUNetState:
    """Checkpoints only what step 2 trains: the LoRA adapter, or the whole UNet when fully fine-tuned.

    A fully fine-tuned UNet is written only once step 2 has changed it (``progress`` is past its
    first step; never with ``ft_steps: 0``): before that it equals the pretrained one, and for a
    TANGO-size model the copy is 3.5 GB.
    """

    def __init__(self, unet, mode: str, progress: EditProgress):
        self.unet, self.mode, self.progress = unet, mode, progress

    def changed(self) -> bool:
        phase, step = self.progress.phase, self.progress.step
        if phase == "done":
            step = self.progress.losses.get("steps", {}).get("finetune", 0)
        return phase in ("finetune", "done") and step > 0

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


@register_checkpoint_hooks
class OptimizerState:
    """Checkpoints an optimiser's state only while its step (``phase``) is unfinished: nothing resumes
    a finished step, and for a fully fine-tuned TANGO UNet Adam's moments are twice its 3.5 GB."""

    def __init__(self, optimizer, phase: str, progress: EditProgress):
        self.optimizer, self.phase, self.progress = optimizer, phase, progress

    @mark_as_saver
    def _save(self, path):
        unfinished = PHASES.index(self.progress.phase) <= PHASES.index(self.phase)
        torch.save(self.optimizer.state_dict() if unfinished else {}, path)

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        state = torch.load(path, map_location="cpu")
        if state:  # empty: saved after its step had finished
            self.optimizer.load_state_dict(state)
