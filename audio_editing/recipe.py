"""What every ``recipes/<edit_type>/edit.py`` does, on top of the Python API: parse the command line,
``Editor.from_hparams``, fit, edit, save.

Everything that can be wrong with the input is checked before the first write (``editing/checks.py``), so a
bad call prints one line, exits with status 2, and leaves no folder behind.
"""

import json
import logging
import shutil
from functools import lru_cache
from pathlib import Path

import speechbrain as sb

from audio_editing.api import FIT_FILE, Editor, prompt_slug
from audio_editing.cli import parse_arguments, read_preset
from audio_editing.data.audio import atomic_write
from audio_editing.editing.checkpoints import finished_fit
from audio_editing.editing.checks import IDENTITY_FILE, check_edit_folder, check_output_folder, check_prompt
from audio_editing.editing.outputs import remove_outputs

logger = logging.getLogger(__name__)


def as_flags(settings: dict) -> list:
    """Hparams as command-line overrides (None as YAML's null).

    Example
    -------
    >>> as_flags({"ft_lr": 0.000001, "source_prompt": None})
    ['--ft_lr=1e-06', '--source_prompt=null']
    """
    return [f"--{key}={'null' if value is None else value}" for key, value in settings.items()]


# The paper's configuration is data: hparams/presets/paper.yaml (``--preset=paper``; the evaluator's
# ``imagic_paper`` rows). Its schedule (steps and rates) is also the demo's "paper" speed and the speed
# benchmark's; ``fast`` is the backbone's hparams file as is.
PAPER_METHOD = read_preset(Path(__file__).resolve().parents[1] / "hparams", "paper")
PAPER_STEPS = {key: PAPER_METHOD[key] for key in ("emb_steps", "ft_steps", "sample_steps")}
PAPER_RATES = {key: PAPER_METHOD[key] for key in ("emb_lr", "ft_lr", "loss_batch")}
PAPER_SETTINGS = as_flags(PAPER_RATES)
SCHEDULES = {"paper": {**PAPER_RATES, **PAPER_STEPS}, "fast": {}}  # hparams for Editor.fit


@lru_cache(maxsize=1)
def environment_description() -> str:
    """SpeechBrain's description of this environment (``pip freeze`` and the Python and torch versions), for each
    edit's ``env.log``: computed once per process, since ``pip freeze`` costs most of a second."""
    return sb.utils.logger.get_environment_description()


def run_edit(editor_class, argv, models=None):
    """Parse ``argv``, edit ``--input_wav`` towards ``--target_prompt``, write outputs (``recipe_edit``).
    Returns the ``EditResult`` (its ``folder`` holds the outputs)."""
    return recipe_edit(editor_class, argv, models).result


def recipe_edit(editor_class, argv, models=None):
    """What ``run_edit`` does, returning the ``api.Edit`` (its ``fit`` and the fit's ``editor`` stay loaded:
    ``benchmarks/edit_speed.py`` edits them with a further prompt).

    Runs through the Python API (``audio_editing.api``): one ``Fit``, one ``Edit``. The edit folder is
    ``<output_folder>/<edit_id>`` (``edit_id`` by default ``<input name>_<prompt slug>``: each prompt gets its
    own). With ``init: target`` the fit depends on the prompt and lives in the edit folder; otherwise it
    lives in ``<output_folder>/fits/<input name>_<fingerprint>/``, where every prompt on the same input with
    the same fit settings finds it.
    """
    hparams_file, run_opts, overrides = parse_arguments(argv)
    if "input_wav" in overrides and "edit_id" not in overrides:
        prompt = str(overrides.get("target_prompt") or "").strip()
        overrides["edit_id"] = f"{Path(str(overrides['input_wav'])).stem}_{prompt_slug(prompt)}"
    editor = Editor.from_hparams(hparams_file, overrides, run_opts, editor_class, models)
    hparams = editor.hparams

    # Check every input before writing anything
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

    # Run steps 1-2 (or load them) and step 3
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

    # Write, at the input's rate, channel count and length
    result = edit.result
    result.metrics.update({f"seconds_{name}": round(t, 3) for name, t in fit.seconds.items()})
    best = edit.save(edit_folder)
    i = result.best_index
    # with several inversion strengths, the one whose sweep was kept
    strength = result.metrics.get("inversion_strength")
    chosen = f"{result.sweep}={result.etas[i]:g}" + (f", inversion strength {strength:g}" if strength is not None else "")
    if result.metrics.get("added_prompt"):
        chosen += f", adding {result.metrics['added_prompt']!r}"
    logger.info(f"best {chosen}: text {result.scores['text_clap'][i]:.3f}, "
                f"audio {result.scores['audio_clap'][i]:.3f} -> {best}")
    print(f"best edit ({chosen}): {best}")
    result.folder = edit_folder
    return edit
