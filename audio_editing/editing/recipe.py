"""What every ``recipes/<edit_type>/edit.py`` does: check inputs, run its editor, write outputs.

Everything that can be wrong with the input is checked before the first write, so a
bad call prints one line, exits with status 2, and leaves no folder behind.
"""

import logging
import os
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.checkpoints import Checkpointer

from audio_editing.cli import load_hparams, parse_arguments
from audio_editing.data.audio import atomic_write, load_audio
from audio_editing.editing.imagic import check_resumable
from audio_editing.editing.outputs import write_edit_outputs
from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

ETA_RANGE = (0.0, 1.5)

# Named schedules, as extra recipe flags: ``fast`` is the backbone's hparams file as is; ``paper`` is
# the seed paper's (Adam 2e-3 x 500 on the embedding, 1e-6 x 1500 on the UNet, one timestep per
# step, 200 DDIM steps).
PAPER_STEPS = {"emb_steps": 500, "ft_steps": 1500, "sample_steps": 200}
PAPER_SETTINGS = ["--emb_lr=0.002", "--ft_lr=0.000001", "--loss_batch=1"]
SCHEDULES = {
    "paper": PAPER_SETTINGS + [f"--{key}={value}" for key, value in PAPER_STEPS.items()],
    "fast": [],
}


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


def check_length(wav, backbone, input_path) -> None:
    """Refuse input longer than the backbone's window."""
    seconds = wav.shape[-1] / backbone.sample_rate
    if seconds > backbone.window_seconds + 1e-6:
        raise UserError(f"'{input_path}' is {seconds:.2f} s long but this backbone edits at most "
                        f"{backbone.window_seconds:g} s; trim it or choose a backbone with a longer window")


def check_output_folder(edit_folder: Path, input_path: Path) -> None:
    """Refuse an output folder that would hold the input file or cannot be written."""
    if input_path.resolve().parent == edit_folder.resolve():
        raise UserError(f"the input '{input_path}' lies in the output folder '{edit_folder}', whose files "
                        "this edit writes; choose another --output_folder or --edit_id")
    existing = edit_folder
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise UserError(f"cannot write to '{existing}'; choose a writable --output_folder")


def run_edit(editor_class, argv):
    """Parse ``argv``, edit ``--input_wav`` towards ``--target_prompt``, write outputs.

    Returns the ``EditResult`` (its ``folder`` holds the outputs).
    """
    hparams_file, run_opts, overrides = parse_arguments(argv)
    if "input_wav" in overrides and "edit_id" not in overrides:
        overrides["edit_id"] = Path(str(overrides["input_wav"])).stem
    hparams, resolved_yaml = load_hparams(hparams_file, overrides)

    # 1. Check every input before writing anything
    backbone = hparams["ldm"]
    prompt = str(hparams["target_prompt"]).strip()
    if not prompt:
        raise UserError("--target_prompt is empty; describe the edited sound, e.g. --target_prompt=\"a dog barks\"")
    hparams["target_prompt"] = prompt
    hparams["etas"] = check_etas(hparams["etas"])
    input_path = Path(hparams["input_wav"])
    wav = load_audio(input_path, backbone.sample_rate)
    check_length(wav, backbone, input_path)
    edit_folder = Path(hparams["edit_folder"])
    check_output_folder(edit_folder, input_path)
    checkpointer_dir = Path(hparams["save_folder"])
    editor = editor_class(modules={"backbone": backbone}, hparams=hparams, run_opts=run_opts,
                          checkpointer=None)
    wav = editor.check_input(wav)
    check_resumable(checkpointer_dir, editor.fingerprint(wav, prompt))

    # 2. Run
    sb.create_experiment_directory(str(edit_folder))
    atomic_write(edit_folder / "hyperparams.yaml", lambda tmp: Path(tmp).write_text(resolved_yaml))
    editor.checkpointer = Checkpointer(checkpointer_dir)
    editor.checkpointer.add_recoverable("brain", editor)
    result = editor.edit(wav, prompt)

    # 3. Write
    best = write_edit_outputs(edit_folder, result, wav, backbone.logmel, prompt)
    i = result.best_index
    logger.info(f"best eta {result.etas[i]:g}: text {result.scores['text_clap'][i]:.3f}, "
                f"audio {result.scores['audio_clap'][i]:.3f} -> {best}")
    print(f"best edit (eta={result.etas[i]:g}): {best}")
    result.folder = edit_folder
    return result
