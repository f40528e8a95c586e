"""The checks of an edit's settings and files, each a one-line ``UserError``: run before anything is written.

The API (``audio_editing.api``) checks settings with them when an editor is loaded and at each fit and edit;
the recipe runner (``recipe.py``) checks its output folders with them before its first write.
"""

import json
import os
from pathlib import Path

from diffusers import DDIMScheduler

from audio_editing.editing.imagic import INITS
from audio_editing.editing.sample_starts import INVERSION_SOURCES, SAMPLE_STARTS
from audio_editing.editing.selection import SELECTION_RULES
from audio_editing.errors import UserError

ETA_RANGE = (0.0, 1.5)
LONG_INPUT = ("window", "error")  # longer than the backbone's window: edit in windows, or refuse
IDENTITY_FILE = "edit.json"  # what an edit folder holds: written first, checked on every rerun
EDIT_KEYS = ("input_sha256", "target_prompt")  # what the folder is an edit of; the rest of edit.json: the fit


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
    """``eta_selection`` names a rule; ``onset_weight`` is a number."""
    if hparams.get("eta_selection") not in SELECTION_RULES:
        raise UserError(f"--eta_selection must be one of {', '.join(SELECTION_RULES)}, "
                        f"got {hparams.get('eta_selection')!r}")
    if not isinstance(hparams["onset_weight"], (int, float)):
        raise UserError(f"--onset_weight must be a number (the weight of onset F1 beside the Text score, such as "
                        f"0.3), got {hparams.get('onset_weight')!r}")


def check_sampling(hparams) -> None:
    """``sample_start`` names a start of step 3, ``inversion_strength`` is in (0, 1], ``inversion_source``
    names a condition to invert under, ``resample_jumps`` is a count the
    sampler can resample with and ``added_guidance`` a weight."""
    start = hparams["sample_start"]
    if start not in SAMPLE_STARTS:
        raise UserError(f"--sample_start must be one of {', '.join(SAMPLE_STARTS)}, got {start!r}")
    strengths = hparams["inversion_strength"]
    listed = strengths if isinstance(strengths, (list, tuple)) else [strengths]
    if not listed or not all(isinstance(x, (int, float)) and 0 < x <= 1 for x in listed):
        raise UserError(f"--inversion_strength must be a number in (0, 1] (the share of the sampling steps "
                        f"regenerated from the inverted input, or edited inversion-free), or a list of them "
                        f"such as [1.0,0.8] (one sweep each, the best kept), got {strengths!r}")
    share = hparams["attention_injection"]
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise UserError(f"--attention_injection must be a number in [0, 1] (the share of the regenerated steps "
                        f"that attend with the input's self-attention maps; 0: off), got {share!r}")
    jumps = hparams.get("resample_jumps")  # inpainting's hparams only
    if jumps is not None and (isinstance(jumps, bool) or not isinstance(jumps, int) or jumps < 1):
        raise UserError(f"--resample_jumps must be a whole number >= 1 (how many times each sampling step is "
                        f"denoised; 1: once), got {jumps!r}")
    sampler = hparams.get("sampler")  # a !name: of a scheduler class's from_config (a partial where it has arguments)
    sampler = DDIMScheduler if sampler is None else getattr(getattr(sampler, "func", sampler), "__self__", None)
    if (jumps or 1) > 1 and not (isinstance(sampler, type) and issubclass(sampler, DDIMScheduler)):
        raise UserError(f"--resample_jumps={jumps} re-noises between DDIM steps; use the DDIM sampler or "
                        f"--resample_jumps=1")
    added = hparams.get("added_guidance")  # addition's hparams only
    if added is not None and (isinstance(added, bool) or not isinstance(added, (int, float)) or added < 0):
        raise UserError(f"--added_guidance must be a number >= 0 (the added sound's guidance per unit of eta, "
                        f"such as 0.15; 0: off), got {added!r}")
    source = hparams["inversion_source"]
    if not isinstance(source, str) or source not in INVERSION_SOURCES:
        raise UserError(f"--inversion_source must be one of {', '.join(INVERSION_SOURCES)} (the condition the input "
                        f"is inverted under), got {source!r}")


def check_init(hparams) -> None:
    """``init`` names a start of step 1; ``init: source`` comes with a ``source_prompt``."""
    init = hparams["init"]
    if init not in INITS:
        raise UserError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    source = hparams["source_prompt"]
    if init == "source" and (source is None or not str(source).strip()):
        raise UserError("--init=source needs --source_prompt, a description of the input "
                        "(e.g. --source_prompt=\"a dog barks\")")


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
