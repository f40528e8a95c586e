"""The Python API: load an editor once, fit a clip once (steps 1-2), edit it with many prompts (step 3).

In the ecosystem's shape (SpeechBrain's ``from_hparams``, diffusers' pipelines)::

    editor = Editor.from_hparams("hparams/addition.yaml", overrides={"init": "empty"})
    fit = editor.fit("benchmarks/toy_world/addition_00_input.wav")      # steps 1-2, once
    edit = editor.edit(fit, "a rifle fires and a machine beeps")         # step 3 and the scores
    edit.save("out/rifle")                                               # files only on request

The recipes (``recipe.py``) and the web demo (``demo.py``) run their edits through this
module. A fit depends on the input, the fit settings (``FIT_KEYS``) and, with ``init: target`` (step 1
starts from the target prompt's embedding), on the prompt: such a fit serves that prompt only.

Each ``Fit`` holds its own fine-tuned UNet (or LoRA adapter): the editor keeps the pretrained UNet
and gives every new fit a copy, so fits never disturb each other. Drop fits you no longer need.
"""

import copy
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import torch
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.seed import seed_everything
from speechbrain.utils.train_logger import FileTrainLogger

from audio_editing.cli import load_hparams
from audio_editing.data.audio import AudioClip, atomic_write, audio_clip, check_audible, read_audio
from audio_editing.editing.checkpoints import FIT_KEYS, check_resumable
from audio_editing.editing.checks import (check_etas, check_init, check_long_input, check_prompt, check_sampling,
                                          check_selection)
from audio_editing.editing.edit_types import REGISTRY, editor_class
from audio_editing.editing.imagic import EditResult, ImagicEditor, hparams_needed
from audio_editing.editing.methods import check_read_by, with_method
from audio_editing.editing.outputs import write_edit_outputs
from audio_editing.editing.selection import SELECTION_RULES
from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

FIT_FILE = "fit.json"  # what a fit folder holds a fit of: written before its first checkpoint
# Hparams that name the model, or a command line's files: set once, by ``Editor.from_hparams``.
LOADED_KEYS = ("backbone", "backbone_source", "scorer_source", "input_wav", "target_prompt", "output_folder",
               "edit_id", "edit_folder", "save_folder", "method")
PLAIN = (type(None), bool, int, float, str, list, tuple)


class NoTrainLog:
    """The train logger of a fit kept in memory: it writes nothing (its losses are in ``Fit.losses``)."""

    def log_stats(self, *args, **kwargs) -> None:
        pass


def prompt_slug(prompt: str, limit: int = 40) -> str:
    """A folder-name form of ``prompt``: its lowercase words joined by ``_``, cut to ``limit`` characters;
    a short hash of the prompt is added when that loses anything (cut, capitals, punctuation), so two
    prompts never share a slug.

    Example
    -------
    >>> prompt_slug("a rifle fires and a machine beeps")
    'a_rifle_fires_and_a_machine_beeps'
    >>> prompt_slug("A dog barks!")
    'a_dog_barks_761403'
    >>> prompt_slug("a dog barks while a siren wails and rain falls on a tin roof")
    'a_dog_barks_while_a_siren_wails_and_rain_1634de'
    """
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    slug = "_".join(words)
    if " ".join(words) == prompt and len(slug) <= limit and slug:
        return slug
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:6]
    return f"{slug[:limit].rstrip('_')}_{digest}".lstrip("_")


@dataclass
class Fit:
    """Steps 1-2 on one input: what every edit of it samples from (``Editor.fit`` makes one).

    ``prompt`` is the target prompt the fit was made for when ``init: target`` (step 1 started from its
    embedding), else None: then every prompt may use it. ``folder`` (optional) keeps its checkpoints
    (``save/``), ``train_log.txt`` and ``fit.json`` (its identity), so another process reuses it.
    """

    editor: "Editor" = field(repr=False)
    brain: ImagicEditor = field(repr=False)
    clip: AudioClip = field(repr=False)  # the input as read
    wav: torch.Tensor = field(repr=False)  # the model's input: [T] mono ([channels, T] for a stereo model), its rate
    name: str  # the input's file name (or "audio" for a tensor)
    identity: dict = field(repr=False)  # input hash and fit settings (and the prompt with init=target)
    hparams: dict = field(repr=False)  # the editor's, with the fit's settings: what its edits start from
    prompt: Optional[str] = None
    folder: Optional[Path] = None
    seconds: dict = field(default_factory=dict)  # per phase of steps 1-2: encode, embedding, finetune
    resumed_from: Optional[str] = None  # "done": loaded from ``folder``; "<phase> step <n>": resumed there
    unet: Optional[torch.nn.Module] = field(default=None, repr=False)
    done: bool = False

    @property
    def fingerprint(self) -> str:
        """A short hash of ``identity``: names the fit's folder and is stored with its checkpoints."""
        return self.brain.fingerprint(self.wav, self.prompt)

    @property
    def losses(self) -> dict:
        """Per-step losses of steps 1-2 (``embedding``, ``finetune``) and the fixed-draw losses (``eval``)."""
        return self.brain.losses

    def use_folder(self, folder, check: bool = True) -> "Fit":
        """Keep this fit's checkpoints and train log in ``folder``; a finished fit there is loaded, not
        run again. Refuses a folder that holds another fit (unless ``check`` is False: its caller removes it)."""
        folder = Path(folder)
        if check:
            written = folder / FIT_FILE
            there = json.loads(written.read_text()) if written.is_file() else self.identity
            differ = sorted(key for key in set(there) | set(self.identity) if there.get(key) != self.identity.get(key))
            if differ:
                raise UserError(f"'{folder}' holds the fit of another input or other settings (it differs in "
                                f"{', '.join(differ)}); pass another folder, or delete it")
            check_resumable(folder / "save", self.fingerprint)
        self.folder = folder
        return self

    def run(self) -> "Fit":
        """Run steps 1-2 (or load them from ``folder``); returns this fit (at once if it has run)."""
        brain, editor = self.brain, self.editor
        if self.done:
            return self
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.folder / FIT_FILE, lambda tmp: Path(tmp).write_text(json.dumps(self.identity, indent=1)))
            brain.hparams.train_logger = FileTrainLogger(str(self.folder / "train_log.txt"))
            brain.checkpointer = Checkpointer(self.folder / "save")
            brain.checkpointer.add_recoverable("brain", brain)
        if brain.trains:
            self.unet = editor.fresh_unet()
        seed_everything(brain.hparams.seed, verbose=False)  # where a fresh process starts: LoRA's init draws
        self.seconds = brain.fit_input(self.wav, self.prompt)
        self.resumed_from, self.done = brain.resumed_from, True
        return self


@dataclass
class Edit:
    """Step 3 of one prompt on a fit: an output and a score row per eta (``Editor.edit`` makes one)."""

    prompt: str
    fit: Fit = field(repr=False)
    result: EditResult = field(repr=False)

    @property
    def etas(self) -> List[float]:
        return self.result.etas

    @property
    def sweep(self) -> str:
        """What ``etas`` are: ``eta`` (imagic), ``strength`` (sdedit, ddpm_inversion, inversion_free) or ``gain``
        (layer: the added layer's loudness relative to the input's)."""
        return self.result.sweep

    @property
    def added_prompt(self):
        """Addition with ``method: layer`` (the sound generated and mixed in) or with the method's
        ``added_guidance`` (the sound guided in): that sound's prompt; None otherwise."""
        return self.result.metrics.get("added_prompt")

    @property
    def scores(self) -> dict:
        """Column -> one value per eta: ``text_clap``, ``audio_clap``, ``sum``, ``mel_snr_to_input``, ``onset_f1``."""
        return self.result.scores

    @property
    def best_index(self) -> int:
        return self.result.best_index

    @property
    def best_eta(self) -> float:
        """The eta chosen by ``eta_selection``."""
        return self.etas[self.best_index]

    @property
    def wavs(self) -> torch.Tensor:
        """The edits [n_eta, channels, T] at the input's sample rate, channel count and length."""
        return self.result.outputs

    @property
    def sample_rate(self) -> int:
        return self.fit.clip.sample_rate

    def save(self, folder) -> Path:
        """Write the outputs (``input.wav``, ``edit_eta<eta>.wav``, ``best.wav``, ``scores.csv``, the figures)
        into ``folder``; returns the path of ``best.wav``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        backbone = self.fit.editor.backbone
        return write_edit_outputs(folder, self.result, self.fit.wav, backbone.logmel, self.prompt, self.fit.clip)


def recipe_editor_class(hparams_file) -> type:
    """The editor class of the edit type named like ``hparams_file`` (``hparams/inpainting.yaml``: the
    registry's ``InpaintingEditor``, ``editing/edit_types.py``), else the shared ``ImagicEditor``."""
    name = Path(hparams_file).stem
    return editor_class(name) if name in REGISTRY else ImagicEditor


@dataclass
class Models:
    """A recipe's loaded model (``ldm``) and scorer, for several ``Editor``s in turn (a batch evaluation loads
    them once). Each Editor built with them starts from the pretrained UNet: fits train copies of it
    (``Editor.fresh_unet``), and a baseline never trains it."""

    ldm: object
    scorer: object
    unet: torch.nn.Module = None  # the pretrained UNet

    @classmethod
    def of(cls, hparams: dict) -> "Models":
        return cls(hparams["ldm"], hparams["scorer"], hparams["ldm"].unet)

    def loaded(self) -> dict:
        """The hparams these stand for, the model's UNet put back to the pretrained one."""
        self.ldm.unet = self.unet
        return {"ldm": self.ldm, "scorer": self.scorer}


class Editor:
    """A loaded model and scorer with a recipe's settings: ``fit`` inputs, ``edit`` fits with prompts.

    Build one with ``from_hparams``. Settings given to ``fit`` apply to that fit and its edits; those
    given to ``edit`` (sampling settings only) to that edit.
    """

    def __init__(self, editor_class: type, hparams: dict, run_opts=None, resolved_yaml: str = ""):
        self.editor_class = with_method(editor_class, hparams.get("method", "imagic"))
        self.hparams, self.run_opts = hparams, run_opts
        self.resolved_yaml = resolved_yaml  # the configuration as resolved (the recipes write it)
        self.backbone = hparams["ldm"]
        self.pretrained_unet = None  # kept once a fit trains a copy
        missing = [key for key in hparams_needed(self.editor_class) if key not in hparams]
        if missing:
            raise UserError(f"the hparams lack {', '.join(missing)}, read by --method={self.editor_class.method}; "
                            "add them to the recipe's hparams file (the shipped hparams/<edit type>.yaml files hold "
                            "each with its default)")
        check_settings(hparams, self.editor_class)

    @classmethod
    def from_hparams(cls, hparams_file, overrides: Optional[dict] = None, run_opts: Optional[dict] = None,
                     editor_class: Optional[type] = None, models: Optional[Models] = None) -> "Editor":
        """Load a recipe's hparams file (and its backbone's) with ``overrides``, as ``--key=value`` would.

        ``run_opts``: SpeechBrain's run options (``{"device": "cuda", "precision": "bf16"}``);
        ``editor_class``: by default the recipe's own (``recipe_editor_class``); ``models``: the model and
        scorer these hparams would load, already loaded (``Models.of`` an earlier load of the same file and
        backbone settings), so that a batch loads them once.
        """
        overrides = {"input_wav": None, "target_prompt": None, "edit_id": None, **(overrides or {})}
        hparams, resolved_yaml = load_hparams(hparams_file, overrides, models.loaded() if models else None)
        editor = cls(editor_class or recipe_editor_class(hparams_file), hparams, run_opts, resolved_yaml)
        check_read_by(editor.editor_class.method, overrides)  # a setting the method ignores is a mistake
        return editor

    def settings(self, base: dict, settings: dict, fit_keys_allowed: bool = True) -> dict:
        """``base`` with ``settings`` applied; each must be a plain hparam that may change per call."""
        for key, value in settings.items():
            if key not in base:
                raise UserError(f"unknown hparam '{key}'; see the recipe's hparams file and its backbone's")
            if key in LOADED_KEYS or not isinstance(base[key], PLAIN):
                raise UserError(f"'{key}' is set when the editor is loaded: pass it in "
                                f"Editor.from_hparams(..., overrides={{'{key}': ...}})")
            if not fit_keys_allowed and key in FIT_KEYS + ("mask_start", "mask_end"):
                raise UserError(f"'{key}' is a fit setting: pass it to Editor.fit (or from_hparams), not to edit")
        check_read_by(self.editor_class.method, settings)
        merged = {key: value for key, value in {**base, **settings}.items() if key != "train_logger"}
        check_settings(merged, self.editor_class)
        return merged

    def prepare_fit(self, audio, sample_rate: Optional[int] = None, *, target_prompt: Optional[str] = None,
                    **settings) -> Fit:
        """A checked ``Fit`` of ``audio`` (a file path, or a tensor [T] or [channels, T] with ``sample_rate``),
        not yet run: every check is done and nothing is written. ``Fit.run`` runs it."""
        hparams = self.settings(self.hparams, settings)
        clip, name = read_input(audio, sample_rate)
        backbone = self.backbone
        wav = clip.to_model(backbone.sample_rate, backbone.channels)
        check_audible(clip, wav, name)
        check_long_input(hparams, clip.seconds, backbone.window_seconds, name)
        brain = self.editor_class(modules={"backbone": backbone}, hparams={**hparams, "train_logger": NoTrainLog()}, run_opts=self.run_opts,
                                  checkpointer=None)
        prompt = None
        if brain.trains and brain.init == "target":
            if target_prompt is None:
                raise UserError("with init=target step 1 starts from the target prompt's embedding, so the fit "
                                "depends on it: pass target_prompt=... to fit (or use init=empty or source)")
            prompt = check_prompt(target_prompt)
        wav = brain.check_input(wav, clip)
        return Fit(editor=self, brain=brain, clip=clip, wav=wav, name=name, identity=brain.identity(wav, prompt),
                   hparams=hparams, prompt=prompt)

    def fit(self, audio, sample_rate: Optional[int] = None, *, target_prompt: Optional[str] = None,
            folder=None, **settings) -> Fit:
        """Steps 1-2 on ``audio`` (see ``prepare_fit``). ``target_prompt`` is needed, and read, only with
        ``init: target``. ``folder``: keep the fit's checkpoints there (a later call with the same input and
        settings loads it instead of fitting again); without it the fit lives in memory only.
        ``settings``: hparams for this fit and its edits (``emb_steps``, ``ft_mode``, ``mask_start``, ...)."""
        fit = self.prepare_fit(audio, sample_rate, target_prompt=target_prompt, **settings)
        if folder is not None:
            fit.use_folder(folder)
        return fit.run()

    def fresh_unet(self) -> torch.nn.Module:
        """Put a copy of the pretrained UNet into the backbone for a new fit to train, and return it.

        The pretrained UNet itself waits in host memory, so a process with one fit (a recipe run)
        holds one UNet on the accelerator, as before the API (TANGO's is 3.5 GB in fp32)."""
        device = next(self.backbone.unet.parameters()).device
        if self.pretrained_unet is None:
            self.pretrained_unet = self.backbone.unet.to("cpu")
        self.backbone.unet = copy.deepcopy(self.pretrained_unet).to(device)
        return self.backbone.unet

    def edit(self, fit: Fit, target_prompt: str, etas: Optional[List[float]] = None, **settings) -> Edit:
        """Step 3 of ``fit`` towards ``target_prompt``: sample each eta (``etas``, default the fit's), score,
        choose. ``settings``: sampling hparams for this edit (``sample_steps``, ``guidance_scale``, ...)."""
        if fit.editor is not self:
            raise UserError("this fit was made by another Editor; edit it with that one")
        if not fit.done:
            raise UserError("this fit has not run yet: call fit.run() (or make it with Editor.fit)")
        prompt = check_prompt(target_prompt)
        if fit.prompt is not None and fit.prompt != prompt:
            raise UserError(f"this fit was made for the prompt {fit.prompt!r} (init=target: step 1 starts from the "
                            f"target prompt, so the fit depends on it); fit again with target_prompt={prompt!r}, "
                            "or fit with init=empty or source to edit with any prompt")
        if etas is not None:
            if fit.brain.sweep_key != "etas":
                raise UserError(f"method '{fit.brain.method}' sweeps {fit.brain.sweep} values, not "
                                f"etas: pass {fit.brain.sweep_key}=[...] to edit")
            settings["etas"] = etas
        hparams = self.settings(fit.hparams, settings, fit_keys_allowed=False)
        brain = fit.brain
        brain.hparams = SimpleNamespace(**hparams, train_logger=brain.hparams.train_logger)  # set by Fit.run
        if brain.trains:
            self.backbone.unet = fit.unet
        result = brain.sample(prompt)
        clip = fit.clip
        composed = brain.compose(clip.samples, clip.from_model(result.decoded, result.sample_rate), clip.sample_rate)
        result.outputs = brain.with_background(clip.samples, composed, clip.sample_rate)
        return Edit(prompt=prompt, fit=fit, result=result)


def check_settings(hparams: dict, editor_class: type) -> None:
    """The checks of settings that need no input: etas, the selection rule, step 3's start, step 1's start."""
    hparams["etas"] = check_etas(hparams["etas"])
    check_selection(hparams)
    if hparams["eta_selection"] == "text_span" and not editor_class.scores_span:
        raise UserError(f"--eta_selection=text_span reads the Text score of the filled span, which only inpainting "
                        f"has; choose one of {', '.join(r for r in SELECTION_RULES if r != 'text_span')}")
    check_sampling(hparams)
    check_init(hparams)


def read_input(audio, sample_rate: Optional[int] = None):
    """(``AudioClip``, name for messages) of a file path, or of a tensor [T] / [channels, T] at ``sample_rate``."""
    if isinstance(audio, (str, Path)):
        if sample_rate is not None:
            raise UserError("sample_rate is for tensor input; a file's own rate is read from the file")
        return read_audio(audio), str(audio)
    if not isinstance(audio, torch.Tensor):
        raise UserError(f"audio must be a file path or a tensor [T] or [channels, T], got {type(audio).__name__}")
    if sample_rate is None:
        raise UserError("a tensor input needs its sample_rate, e.g. editor.fit(wav, 16000)")
    if audio.dim() not in (1, 2):
        raise UserError(f"a tensor input must be [T] or [channels, T], got shape {list(audio.shape)}")
    samples = audio.detach().cpu().float().reshape(-1, audio.shape[-1])
    return audio_clip(samples.numpy().T, int(sample_rate), "FLOAT", "the input tensor"), "audio"
