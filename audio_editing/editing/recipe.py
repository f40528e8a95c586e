"""What every ``recipes/<edit_type>/edit.py`` does: check inputs, run its editor, write outputs.

Everything that can be wrong with the input is checked before the first write, so a
bad call prints one line, exits with status 2, and leaves no folder behind.
"""

import json
import logging
import os
import shutil
from functools import lru_cache
from pathlib import Path

import speechbrain as sb
from diffusers import DDIMScheduler

from audio_editing.cli import parse_arguments
from audio_editing.data.audio import atomic_write
from audio_editing.editing.imagic import INITS, INVERSION_SOURCES, SAMPLE_STARTS
from audio_editing.editing.selection import ONSET_WEIGHT, SELECTION_RULES
from audio_editing.editing.outputs import remove_outputs
from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

ETA_RANGE = (0.0, 1.5)
LONG_INPUT = ("window", "error")  # longer than the backbone's window: edit in windows, or refuse
IDENTITY_FILE = "edit.json"  # what an edit folder holds: written first, checked on every rerun
EDIT_KEYS = ("input_sha256", "target_prompt")  # what the folder is an edit of; the rest of edit.json: the fit


def as_flags(settings: dict) -> list:
    """Hparams as command-line overrides (None as YAML's null).

    Example
    -------
    >>> as_flags({"ft_lr": 0.000001, "eta0_guidance_scale": None})
    ['--ft_lr=1e-06', '--eta0_guidance_scale=null']
    """
    return [f"--{key}={'null' if value is None else value}" for key, value in settings.items()]


# Named schedules, as hparams: ``fast`` is the backbone's hparams file as is; ``paper`` is
# the seed paper's (Adam 2e-3 x 500 on the embedding, 1e-6 x 1500 on the UNet, one timestep per
# step, 200 DDIM steps).
PAPER_STEPS = {"emb_steps": 500, "ft_steps": 1500, "sample_steps": 200}
PAPER_RATES = {"emb_lr": 0.002, "ft_lr": 0.000001, "loss_batch": 1}
PAPER_SETTINGS = as_flags(PAPER_RATES)
SCHEDULES = {"paper": {**PAPER_RATES, **PAPER_STEPS}, "fast": {}}  # hparams for Editor.fit
# The paper's whole configuration (the batch evaluator's ``imagic_paper`` rows): its schedule, full
# fine-tuning, step 1 from the target prompt, step 3 from fresh noise with guidance 3 at every eta,
# and the eta with the highest Text + Audio; nothing of the input put back (keep_background off).
PAPER_METHOD = {**SCHEDULES["paper"], "ft_mode": "full", "init": "target", "sample_start": "noise",
                "guidance_scale": 3.0, "eta0_guidance_scale": None, "eta_selection": "max_sum",
                "keep_background": False,
                "etas": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]}  # the recipes' earlier grid: rows stay comparable


def check_etas(etas) -> list:
    if isinstance(etas, (int, float)):
        etas = [etas]
    if isinstance(etas, str):
        etas = [e for e in etas.replace("[", "").replace("]", "").split(",") if e.strip()]
    try:
        etas = [float(e) for e in etas]
    except (TypeError, ValueError):
        raise UserError(f"--etas must be a list of numbers such as [0,0.5,1], got {etas!r}") from None
    low, high = ETA_RANGE
    if not etas:
        raise UserError("--etas is empty; give at least one value, e.g. --etas=[0,0.5,1]")
    bad = [e for e in etas if not low <= e <= high]
    if bad:
        raise UserError(f"eta values {bad} are outside [{low:g}, {high:g}]; 0 reconstructs the input, "
                        "1 follows the target prompt")
    return etas


def check_selection(hparams) -> None:
    """``eta_selection`` names a rule; ``text_gain_margin`` and ``onset_weight`` are numbers."""
    if hparams.get("eta_selection") not in SELECTION_RULES:
        raise UserError(f"--eta_selection must be one of {', '.join(SELECTION_RULES)}, "
                        f"got {hparams.get('eta_selection')!r}")
    if not isinstance(hparams.get("text_gain_margin"), (int, float)):
        raise UserError(f"--text_gain_margin must be a number (a Text-score gain such as 0.05), "
                        f"got {hparams.get('text_gain_margin')!r}")
    if not isinstance(hparams.get("onset_weight", ONSET_WEIGHT), (int, float)):
        raise UserError(f"--onset_weight must be a number (the weight of onset F1 beside the Text score, such as "
                        f"0.3), got {hparams.get('onset_weight')!r}")


def check_sampling(hparams) -> None:
    """``sample_start`` names a start of step 3, ``inversion_strength`` is in (0, 1], ``inversion_source``
    names a condition to invert under (each a list of such, or one) and ``resample_jumps`` is a count the
    sampler can resample with."""
    start = hparams.get("sample_start", "noise")
    if start not in SAMPLE_STARTS:
        raise UserError(f"--sample_start must be one of {', '.join(SAMPLE_STARTS)}, got {start!r}")
    strengths = hparams.get("inversion_strength", 1.0)
    listed = strengths if isinstance(strengths, (list, tuple)) else [strengths]
    if not listed or not all(isinstance(x, (int, float)) and 0 < x <= 1 for x in listed):
        raise UserError(f"--inversion_strength must be a number in (0, 1] (the share of the sampling steps "
                        f"regenerated from the inverted input, or edited inversion-free), or a list of them "
                        f"such as [1.0,0.8] (one sweep each, the best kept), got {strengths!r}")
    share = hparams.get("attention_injection", 0.0)
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise UserError(f"--attention_injection must be a number in [0, 1] (the share of the regenerated steps "
                        f"that attend with the input's self-attention maps; 0: off), got {share!r}")
    jumps = hparams.get("resample_jumps", 1)
    if isinstance(jumps, bool) or not isinstance(jumps, int) or jumps < 1:
        raise UserError(f"--resample_jumps must be a whole number >= 1 (how many times each sampling step is "
                        f"denoised; 1: once), got {jumps!r}")
    sampler = hparams.get("sampler")  # a !name: of a scheduler class's from_config (a partial where it has arguments)
    sampler = DDIMScheduler if sampler is None else getattr(getattr(sampler, "func", sampler), "__self__", None)
    if jumps > 1 and not (isinstance(sampler, type) and issubclass(sampler, DDIMScheduler)):
        raise UserError(f"--resample_jumps={jumps} re-noises between DDIM steps; use the DDIM sampler or "
                        f"--resample_jumps=1")
    sources = hparams.get("inversion_source", "e_opt")
    listed = sources if isinstance(sources, (list, tuple)) else [sources]
    def valid(x):
        mixed = isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < 1
        return mixed or x in INVERSION_SOURCES

    if not listed or not all(valid(x) for x in listed) or len(set(map(str, listed))) < len(listed):
        raise UserError(f"--inversion_source must be one of {', '.join(INVERSION_SOURCES)} or a number in (0, 1) "
                        f"(that share of e_opt mixed with the empty prompt: the condition the input is inverted "
                        f"under), or a list of them such as [e_opt,empty] (one sweep each, the best kept), "
                        f"got {sources!r}")


def check_init(hparams) -> None:
    """``init`` names a start of step 1; ``init: source`` comes with a ``source_prompt``."""
    init = hparams.get("init", "target")
    if init not in INITS:
        raise UserError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    source = hparams.get("source_prompt")
    if init == "source" and (source is None or not str(source).strip()):
        raise UserError("--init=source needs --source_prompt, a description of the input "
                        "(e.g. --source_prompt=\"a dog barks\")")


def check_length(wav, backbone, input_path) -> None:
    """Refuse input longer than the backbone's window (the web demo's upload limit; recipes edit in windows)."""
    seconds = wav.shape[-1] / backbone.sample_rate
    if seconds > backbone.window_seconds + 1e-6:
        raise UserError(f"'{input_path}' is {seconds:.2f} s long but this backbone edits at most "
                        f"{backbone.window_seconds:g} s; trim it or choose a backbone with a longer window")


def check_prompt(prompt) -> str:
    prompt = "" if prompt is None else str(prompt).strip()
    if not prompt:
        raise UserError("--target_prompt is empty; describe the edited sound, e.g. --target_prompt=\"a dog barks\"")
    return prompt


def check_output_folder(folder: Path, input_paths) -> None:
    """Refuse an output folder that would hold an input file or cannot be written."""
    for input_path in input_paths:
        if Path(input_path).resolve().is_relative_to(folder.resolve()):
            raise UserError(f"the input '{input_path}' lies in the output folder '{folder}', whose files "
                            "this run writes; choose another --output_folder or --edit_id")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"the output folder '{folder}' cannot be made: '{existing}' is a file; "
                        "choose another --output_folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to '{existing}'; choose a writable --output_folder")


def check_edit_folder(edit_folder: Path, identity: dict) -> dict:
    """Refuse an existing folder that holds another edit (other input audio or prompt) or files that
    are not an edit's. Returns the fit settings that changed since the folder's last run,
    ``{key: (then, now)}`` (empty: its steps 1-2 can be reused)."""
    identity_file = edit_folder / IDENTITY_FILE
    if identity_file.is_file():
        try:
            there = json.loads(identity_file.read_text())
        except ValueError:
            there = {}
        differ = [key for key in sorted((set(there) | set(identity)) - {"input_wav"})
                  if there.get(key) != identity.get(key)]
        other_edit = [key for key in differ if key in EDIT_KEYS]
        if other_edit:
            names = ", ".join("the input audio" if key == "input_sha256" else key for key in other_edit)
            raise UserError(f"'{edit_folder}' holds a different edit (it differs in {names}: "
                            f"{there.get('target_prompt')!r} on {there.get('input_wav')!r}); "
                            "pass another --output_folder or --edit_id, or delete that folder")
        return {key: (there.get(key), identity.get(key)) for key in differ}
    if edit_folder.is_dir() and any(edit_folder.iterdir()) and not (edit_folder / "save").is_dir():
        raise UserError(f"'{edit_folder}' already holds files that are not an edit's; pass another "
                        "--output_folder or --edit_id")
    return {}


def check_long_input(hparams, seconds: float, window_seconds: float, input_path) -> None:
    """``long_input`` and ``window_overlap`` are valid; with ``long_input: error`` the input fits one window."""
    if hparams["long_input"] not in LONG_INPUT:
        raise UserError(f"--long_input must be one of {', '.join(LONG_INPUT)}, got {hparams['long_input']!r}")
    overlap = hparams["window_overlap"]
    if not isinstance(overlap, (int, float)) or not 0 <= overlap <= 0.5:
        raise UserError(f"--window_overlap must be a fraction of the window in [0, 0.5], got {overlap!r}")
    if hparams["long_input"] == "error" and seconds > window_seconds + 1e-6:
        raise UserError(f"'{input_path}' is {seconds:.2f} s long but this backbone edits {window_seconds:g} s "
                        "at a time and --long_input=error; pass --long_input=window to edit it in "
                        "overlapping windows, or trim it")


@lru_cache(maxsize=1)
def environment_description() -> str:
    """SpeechBrain's description of this environment (``pip freeze`` and the Python and torch versions), for each
    edit's ``env.log``: computed once per process, since ``pip freeze`` costs most of a second."""
    return sb.utils.logger.get_environment_description()


def run_edit(editor_class, argv):
    """Parse ``argv``, edit ``--input_wav`` towards ``--target_prompt``, write outputs (``recipe_edit``).
    Returns the ``EditResult`` (its ``folder`` holds the outputs)."""
    return recipe_edit(editor_class, argv).result


def recipe_edit(editor_class, argv):
    """What ``run_edit`` does, returning the ``api.Edit`` (its ``fit`` and the fit's ``editor`` stay loaded:
    ``benchmarks/edit_speed.py`` edits them with a further prompt).

    Runs through the Python API (``audio_editing.api``): one ``Fit``, one ``Edit``. The edit folder is
    ``<output_folder>/<edit_id>`` (``edit_id`` by default ``<input name>_<prompt slug>``: each prompt gets its
    own). With ``init: target`` the fit depends on the prompt and lives in the edit folder; otherwise it
    lives in ``<output_folder>/fits/<input name>_<fingerprint>/``, where every prompt on the same input with
    the same fit settings finds it.
    """
    from audio_editing.api import FIT_FILE, Editor, finished_fit, prompt_slug  # the API uses this module's checks

    hparams_file, run_opts, overrides = parse_arguments(argv)
    if "input_wav" in overrides and "edit_id" not in overrides:
        prompt = str(overrides.get("target_prompt") or "").strip()
        overrides["edit_id"] = f"{Path(str(overrides['input_wav'])).stem}_{prompt_slug(prompt)}"
    editor = Editor.from_hparams(hparams_file, overrides, run_opts, editor_class)
    hparams = editor.hparams

    # 1. Check every input before writing anything
    prompt = check_prompt(hparams["target_prompt"])
    input_path = Path(hparams["input_wav"])
    edit_folder = Path(hparams["edit_folder"])
    check_output_folder(edit_folder, [input_path])
    fit = editor.prepare_fit(input_path, target_prompt=prompt)
    identity = {**fit.identity, "target_prompt": prompt}
    shared = fit.brain.trains and fit.prompt is None  # a fit for every prompt on this input
    fit_folder = edit_folder
    if shared:
        identity["fit"] = f"fits/{input_path.stem}_{fit.fingerprint}"
        fit_folder = Path(hparams["output_folder"]) / identity["fit"]
    fit_changes = check_edit_folder(edit_folder, identity)
    if fit.brain.trains:  # a fit in the edit folder with other settings is replaced (below), not refused
        fit.use_folder(fit_folder, check=shared or not fit_changes)
    stored = fit.brain.trains and finished_fit(fit_folder, fit.fingerprint)

    # 2. Run
    refit = bool(fit_changes) and (edit_folder / "save").is_dir()
    if fit_changes:  # the previous fit in this folder and its outputs go before edit.json names the new settings
        shutil.rmtree(edit_folder / "save", ignore_errors=True)
        (edit_folder / FIT_FILE).unlink(missing_ok=True)
        remove_outputs(edit_folder)
    identity["input_wav"] = str(input_path)  # for the message above; not compared (a moved file is the same input)
    atomic_write(edit_folder / IDENTITY_FILE, lambda tmp: Path(tmp).write_text(json.dumps(identity, indent=1)))
    sb.create_experiment_directory(str(edit_folder), save_env_desc=False)
    atomic_write(edit_folder / "env.log", lambda tmp: Path(tmp).write_text(environment_description()))
    # SpeechBrain copies the calling module into the experiment folder: here this file, not the user's recipe
    (edit_folder / Path(__file__).name).unlink(missing_ok=True)
    changes = ", ".join(f"{key} {then} -> {now}" for key, (then, now) in fit_changes.items() if key != "fit")
    if refit and not shared:
        logger.info(f"fit settings changed ({changes}): steps 1-2 run again in {edit_folder}")
    elif fit_changes:
        logger.info(f"fit settings changed ({changes}): steps 1-2 from {fit_folder}")
    if shared and stored:
        logger.info(f"steps 1-2 reused from {fit_folder} (same input and fit settings); sampling only")
    elif shared:
        logger.info(f"steps 1-2 run in {fit_folder}: init={fit.brain.init} does not read the prompt, so every "
                    "prompt on this input with these fit settings reuses them")
    elif fit.brain.trains and not stored:
        logger.info("init=target: the fit depends on the prompt; steps 1-2 run for this prompt")
    atomic_write(edit_folder / "hyperparams.yaml", lambda tmp: Path(tmp).write_text(editor.resolved_yaml))
    if not fit.brain.trains:  # the baselines log their sweep into the edit folder
        fit.brain.hparams.train_logger = hparams["train_logger"]
    fit.run()
    edit = editor.edit(fit, prompt)

    # 3. Write, at the input's rate, channel count and length
    result = edit.result
    result.metrics.update({f"seconds_{name}": round(t, 3) for name, t in fit.seconds.items()})
    best = edit.save(edit_folder)
    i = result.best_index
    # with several inversion strengths or sources, the one whose sweep was kept
    strength, source = result.metrics.get("inversion_strength"), result.metrics.get("inversion_source")
    chosen = f"{result.sweep}={result.etas[i]:g}" + (f", inversion strength {strength:g}" if strength is not None else "")
    if source is not None:
        mixed = not isinstance(source, str)
        chosen += ", inverted under " + (f"{source:g} e_opt + {1 - source:g} empty" if mixed else source)
    if result.metrics.get("layer_prompt"):
        chosen += f", layer {result.metrics['layer_prompt']!r}"
    logger.info(f"best {chosen}: text {result.scores['text_clap'][i]:.3f}, "
                f"audio {result.scores['audio_clap'][i]:.3f} -> {best}")
    print(f"best edit ({chosen}): {best}")
    result.folder = edit_folder
    return edit
