"""A generated corpus of awkward and bad inputs, each with the exact behaviour it must get.

Bad input: exit status 2, one ``error: ...`` line naming the problem, nothing written.
Awkward but valid input: exit status 0 and edits at the input's rate, channel count and
length, in 16-bit PCM or the input's own richer format. Runs in-process through the
recipes' command-line entry (``run_cli``), on the tiny model with a few steps each.
"""

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_editing.cli import run_cli
from audio_editing.data.audio import OUTPUT_PEAK
from audio_editing.recipe import run_edit
from audio_editing.editing.edit_types import editor_class
from tests.conftest import (REPO, TINY_SECONDS, assert_span_filled, edit_folder, tiny_args, tiny_eval_args,
                            write_scene_clip)
from tests.robustness.conftest import signal

FAST = ("--emb_steps=2", "--ft_steps=2", "--sample_steps=3")


def write(folder, name, data, rate, subtype="PCM_16", fmt=None):
    path = folder / name
    sf.write(str(path), data, rate, subtype=subtype, format=fmt)
    return path


def make_input(kind, folder):
    """The input file of a case (or the path that is missing)."""
    if kind == "missing":
        return folder / "does_not_exist.wav"
    if kind == "folder":
        (folder / "a_folder.wav").mkdir()
        return folder / "a_folder.wav"
    if kind == "text":
        (folder / "notes.wav").write_text("this is not audio\n")
        return folder / "notes.wav"
    if kind in ("header_only", "truncated_header", "truncated_data"):
        full = write(folder, "full.tmp.wav", signal(1.0, 16000), 16000, fmt="WAV").read_bytes()
        (folder / "full.tmp.wav").unlink()
        cut = {"header_only": 44, "truncated_header": 20, "truncated_data": 44 + 2 * 8000}[kind]
        (folder / f"{kind}.wav").write_bytes(full[:cut])
        return folder / f"{kind}.wav"
    if kind == "zero_length":
        return write(folder, "empty.wav", np.zeros((0, 1), "float32"), 16000)
    if kind in ("nan", "inf"):
        data = signal(0.5, 16000)
        data[100] = np.nan if kind == "nan" else np.inf
        return write(folder, f"{kind}.wav", data, 16000, "FLOAT")
    if kind == "silent":
        return write(folder, "silent.wav", np.zeros((16000, 1), "float32"), 16000)
    if kind == "cancelling_stereo":
        data = signal(1.0, 16000)
        return write(folder, "cancel.wav", np.concatenate([data, -data], axis=1), 16000)
    if kind == "no_gap":  # a rain bed: no digital silence anywhere
        return write_scene_clip(folder / "no_gap.wav", ["knock"], seed=3, background="rain")
    if kind == "long":
        return write(folder, "long.wav", signal(3.0, 16000), 16000)
    if kind == "stereo_44k":
        return write(folder, "stereo44.wav", signal(1.0, 44100, 2), 44100)
    if kind == "stereo_48k_24bit":
        return write(folder, "stereo48.wav", signal(1.0, 48000, 2), 48000, "PCM_24")
    if kind == "surround_5_1":
        return write(folder, "surround.wav", signal(1.0, 48000, 6), 48000)
    if kind == "pcm_u8_8k":
        return write(folder, "u8.wav", signal(1.0, 8000), 8000, "PCM_U8")
    if kind == "float_over_full_scale":
        return write(folder, "loud.wav", signal(1.0, 16000, peak=2.0), 16000, "FLOAT")
    if kind == "very_quiet_float":
        return write(folder, "quiet.wav", signal(1.0, 16000, peak=5e-5), 16000, "FLOAT")
    if kind == "very_quiet_pcm16":
        return write(folder, "quiet16.wav", signal(1.0, 16000, peak=1e-3), 16000)
    if kind == "clipped":
        return write(folder, "clipped.wav", np.clip(signal(1.0, 16000, peak=3.0), -1, 1), 16000)
    if kind == "short":
        return write(folder, "short.wav", signal(0.12, 16000), 16000)
    if kind == "one_sample":
        return write(folder, "one.wav", np.full((1, 1), 0.5, "float32"), 22050)
    if kind == "odd_rate":
        return write(folder, "odd.wav", signal(1.0, 44101), 44101)
    if kind == "wav_named_flac":
        return write(folder, "really_a_wav.flac", signal(1.0, 16000), 16000, fmt="WAV")
    if kind == "flac_24bit":
        return write(folder, "in.flac", signal(1.0, 32000), 32000, "PCM_24")
    if kind == "gap_stereo_44k":
        data = signal(1.0, 44100, 2)
        data[round(0.4 * 44100): round(0.7 * 44100)] = 0.0
        return write(folder, "gap44.wav", data, 44100)
    return write(folder, "good.wav", signal(1.0, 16000), 16000)


# (case id, recipe, input kind, extra flags, words the one error line must contain)
ERRORS = [
    ("missing", "addition", "missing", [], "does not exist"),
    ("folder", "addition", "folder", [], "is a folder, not an audio file"),
    ("text_named_wav", "addition", "text", [], "cannot read"),
    ("zero_length", "addition", "zero_length", [], "contains no audio samples"),
    ("header_only", "addition", "header_only", [], "contains no audio samples"),
    ("truncated_header", "addition", "truncated_header", [], "cannot read"),
    ("nan", "addition", "nan", [], "NaN or infinite"),
    ("inf", "style_transfer", "inf", [], "NaN or infinite"),
    ("silent", "addition", "silent", [], "is silent"),
    ("cancelling_stereo", "addition", "cancelling_stereo", [], "silent once downmixed"),
    ("empty_prompt", "addition", "good", ["--target_prompt="], "--target_prompt is empty"),
    ("whitespace_prompt", "style_transfer", "good", ["--target_prompt=  \t "], "--target_prompt is empty"),
    ("unknown_backbone", "addition", "good", ["--backbone=nonexistent"], "unknown backbone 'nonexistent'"),
    ("unknown_hparam", "addition", "good", ["--not_a_key=3"], "unknown hparam '--not_a_key'"),
    ("etas_empty", "addition", "good", ["--etas=[]"], "--etas is empty"),
    ("eta_too_large", "addition", "good", ["--etas=[0,2.5]"], "outside [0, 1.5]"),
    ("eta_negative", "inpainting", "gap_stereo_44k", ["--etas=[-0.1]"], "outside [0, 1.5]"),
    ("etas_not_numbers", "addition", "good", ["--etas=[a,b]"], "must be a list of numbers"),
    ("span_outside", "inpainting", "good", ["--mask_start=0.5", "--mask_end=9"], "outside the clip"),
    ("span_empty", "inpainting", "good", ["--mask_start=0.5", "--mask_end=0.5"], "is empty or outside"),
    ("span_half_given", "inpainting", "good", ["--mask_start=0.5"], "give both --mask_start and --mask_end"),
    ("no_gap_found", "inpainting", "no_gap", [], "no blank span"),
    ("long_input_refused", "addition", "long", ["--long_input=error"], "--long_input=window"),
    ("long_input_unknown", "addition", "good", ["--long_input=maybe"], "--long_input must be one of"),
    ("window_overlap_too_large", "addition", "good", ["--window_overlap=0.9"], "--window_overlap must be"),
    ("one_sample", "addition", "one_sample", [], "is 0.0 ms long; an edit needs at least 0.1 s"),
    ("unknown_selection", "style_transfer", "good", ["--eta_selection=best_clap"],
     "--eta_selection must be one of max_sum, max_text, text_onset"),
    ("onset_weight_not_a_number", "addition", "good", ["--onset_weight=lots"], "--onset_weight must be a number"),
    ("span_rule_outside_inpainting", "style_transfer", "good", ["--eta_selection=text_span"], "which only inpainting has"),
    ("setting_the_method_ignores", "addition", "good", ["--method=layer", "--emb_steps=20"],
     "is not read by --method=layer (only by imagic); drop it, or choose --method=imagic"),
    ("strengths_for_the_method", "style_transfer", "good", ["--strengths=[0,1]"],
     "--strengths is not read by --method=imagic"),
]


def run_in_process(main, argv, capsys):
    """``run_cli(main, argv)`` as a fresh process would: -> (exit status, lines of stderr).

    A run sets up logging into its edit folder (SpeechBrain); that is undone afterwards, as
    the end of a process would, so a later run logs nothing into an earlier run's folder.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    capsys.readouterr()
    try:
        run_cli(main, argv)
        status = 0
    except SystemExit as stop:
        status = stop.code
    finally:
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)
    return status, capsys.readouterr().err.splitlines()


def run_recipe(recipe, args, capsys):
    editor = editor_class(recipe)
    return run_in_process(lambda argv: run_edit(editor, argv), [str(REPO / "hparams" / f"{recipe}.yaml"), *args],
                          capsys)


def assert_one_error(status, stderr, message):
    errors = [line for line in stderr if line.startswith("error:")]
    assert status == 2 and len(errors) == 1 and message in errors[0], (status, stderr[-5:])
    assert not any("Traceback" in line for line in stderr)


def tree(folder):
    return sorted((str(p), p.stat().st_mtime_ns) for p in Path(folder).rglob("*"))


@pytest.mark.parametrize("case,recipe,kind,flags,message", ERRORS, ids=[c[0] for c in ERRORS])
def test_bad_input_is_one_error_line_and_nothing_written(case, recipe, kind, flags, message, tiny_model_dir,
                                                         tmp_path, capsys):
    source = make_input(kind, tmp_path)
    before = tree(tmp_path)
    status, stderr = run_recipe(recipe, [f"--input_wav={source}", "--target_prompt=a dog barks",
                                         *tiny_args(tiny_model_dir, tmp_path / "out"), *FAST, *flags], capsys)
    assert_one_error(status, stderr, message)
    assert tree(tmp_path) == before and not (tmp_path / "out").exists()


def unwritable_folder(tmp_path):
    """A folder this process cannot write to (root ignores permission bits: then /proc/sys)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        folder = Path("/proc/sys")
    if os.access(folder, os.W_OK):
        pytest.skip("no unwritable folder available")
    return folder


OUTPUT_CASES = ["unwritable", "output_folder_is_a_file", "output_folder_is_the_input", "input_inside_edit_folder",
                "folder_of_another_edit", "folder_of_other_files"]


@pytest.mark.parametrize("case", OUTPUT_CASES)
def test_bad_output_folder_is_one_error_line_and_nothing_written(case, tiny_model_dir, tmp_path, capsys):
    clip = make_input("good", tmp_path)
    args = [f"--input_wav={clip}", "--target_prompt=a dog barks", *tiny_args(tiny_model_dir, tmp_path / "out"),
            *FAST]
    if case == "unwritable":
        args.append(f"--output_folder={unwritable_folder(tmp_path)}/out")
        message = "cannot write to"
    elif case == "output_folder_is_a_file":
        (tmp_path / "plain_file").write_text("x")
        args.append(f"--output_folder={tmp_path / 'plain_file'}")
        message = "is a file"
    elif case == "output_folder_is_the_input":
        args.append(f"--output_folder={clip}")
        message = "is a file"
    elif case == "input_inside_edit_folder":
        args += [f"--output_folder={tmp_path.parent}", f"--edit_id={tmp_path.name}"]
        message = "lies in the output folder"
    elif case == "folder_of_another_edit":  # the default edit_id names the prompt: here one is given
        args.append("--edit_id=good")
        status, _ = run_recipe("addition", args, capsys)
        assert status == 0
        args.append("--target_prompt=a siren wails")
        message = "holds a different edit (it differs in target_prompt: 'a dog barks'"
    else:
        args.append("--edit_id=good")
        (tmp_path / "out" / "good").mkdir(parents=True)
        (tmp_path / "out" / "good" / "best.wav").write_text("my own file")
        message = "already holds files that are not an edit's"
    before = tree(tmp_path)
    status, stderr = run_recipe("addition", args, capsys)
    assert_one_error(status, stderr, message)
    assert tree(tmp_path) == before


# (case id, recipe, input kind, extra flags, (channels, rate, subtype) of the edits)
VALID = [
    ("stereo_44k", "addition", "stereo_44k", [], (2, 44100, "PCM_16")),
    ("stereo_48k_24bit", "style_transfer", "stereo_48k_24bit", [], (2, 48000, "PCM_24")),
    ("surround_5_1", "addition", "surround_5_1", [], (6, 48000, "PCM_16")),
    ("pcm_u8_8k", "addition", "pcm_u8_8k", [], (1, 8000, "PCM_16")),
    ("float_over_full_scale", "addition", "float_over_full_scale", [], (1, 16000, "FLOAT")),
    ("very_quiet_float", "addition", "very_quiet_float", [], (1, 16000, "FLOAT")),
    ("very_quiet_pcm16", "style_transfer", "very_quiet_pcm16", [], (1, 16000, "PCM_16")),
    ("clipped", "addition", "clipped", [], (1, 16000, "PCM_16")),
    ("short", "addition", "short", [], (1, 16000, "PCM_16")),
    ("odd_rate_44101", "addition", "odd_rate", [], (1, 44101, "PCM_16")),
    ("truncated_data", "addition", "truncated_data", [], (1, 16000, "PCM_16")),
    ("wav_named_flac", "addition", "wav_named_flac", [], (1, 16000, "PCM_16")),
    ("flac_24bit_32k", "style_transfer", "flac_24bit", [], (1, 32000, "PCM_24")),
    ("long_3s_windows", "addition", "long", [], (1, 16000, "PCM_16")),
    ("yaml_like_prompt", "addition", "good", ["--target_prompt=sirens: [loud], yes"], (1, 16000, "PCM_16")),
    ("inpainting_stereo_44k_gap", "inpainting", "gap_stereo_44k", [], (2, 44100, "PCM_16")),
]


@pytest.mark.slow
@pytest.mark.parametrize("case,recipe,kind,flags,layout", VALID, ids=[c[0] for c in VALID])
def test_valid_input_is_edited_at_its_own_rate_layout_and_length(case, recipe, kind, flags, layout,
                                                                  tiny_model_dir, tmp_path, capsys):
    source = make_input(kind, tmp_path)
    status, stderr = run_recipe(recipe, [f"--input_wav={source}", "--target_prompt=a dog barks",
                                         *tiny_args(tiny_model_dir, tmp_path / "out"), *FAST, *flags], capsys)
    assert status == 0, stderr[-5:]
    prompts = [flag.split("=", 1)[1] for flag in flags if flag.startswith("--target_prompt=")]
    folder = edit_folder(tmp_path / "out", source, *prompts[-1:])
    frames = sf.info(str(source)).frames
    for name in ("edit_eta0.00.wav", "edit_eta1.00.wav", "best.wav"):
        info = sf.info(str(folder / name))
        assert (info.channels, info.samplerate, info.subtype) == layout, (name, info)
        assert info.frames == frames, name
        assert np.isfinite(sf.read(str(folder / name))[0]).all()
    log = (folder / "log.txt").read_text()
    if frames / sf.info(str(source)).samplerate > TINY_SECONDS:
        assert "in 3 windows of 1.28 s" in log
    if recipe == "inpainting":  # every observed sample of every channel is the input's
        original, _ = sf.read(str(source), dtype="int16")
        edited, _ = sf.read(str(folder / "best.wav"), dtype="int16")
        start, end = round(0.4 * 44100), round(0.7 * 44100)
        assert (edited[:start] == original[:start]).all() and (edited[end:] == original[end:]).all()
        assert_span_filled(edited, original, start, end)


@pytest.mark.slow
def test_level_goes_back_to_the_inputs(tiny_model_dir, tmp_path, capsys):
    """The model sees every input at one peak; edits come back at the input's level, unclipped:
    the same clip at -90 dBFS, at 0.5 and at 2.0 (float, over full scale) gives the same edit, at a
    level proportional to the input's (bit-exact below full scale: the scales are powers of two, so
    the model's input is the same to the bit), except that an edit louder than full scale and than
    its input is scaled down as a whole to OUTPUT_PEAK or to the input's peak (never clipped)."""
    base = signal(1.0, 16000, peak=0.5)
    edits = {}
    for scale in (2.0 ** -14, 2.0 ** -13, 1.0, 4.0):
        source = write(tmp_path, f"x{scale:g}.wav", base * scale, 16000, "FLOAT")
        status, stderr = run_recipe("addition", [f"--input_wav={source}", "--target_prompt=a dog barks",
                                                 *tiny_args(tiny_model_dir, tmp_path / "out"), *FAST], capsys)
        assert status == 0, stderr[-5:]
        edits[scale] = sf.read(str(edit_folder(tmp_path / "out", source) / "edit_eta1.00.wav"), dtype="float32")[0]
    quiet = edits[2.0 ** -14]
    assert np.array_equal(edits[2.0 ** -13] / 2.0 ** -13, quiet / 2.0 ** -14)  # far below full scale: exact
    loudness = np.abs(quiet).max() / 2.0 ** -14  # the edit's peak per unit of input scale, before any limit
    for scale in (1.0, 4.0):
        edit = edits[scale]
        expected = min(loudness * scale, max(OUTPUT_PEAK, 0.5 * scale))
        assert np.isclose(np.abs(edit).max(), expected, rtol=1e-4), (scale, np.abs(edit).max(), expected)
        assert np.allclose(edit / np.abs(edit).max(), quiet / np.abs(quiet).max(), atol=1e-5)  # the same edit
    assert np.abs(edits[4.0]).max() > 1.0  # a float input over full scale keeps its edit over it too


def run_evaluate(args, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluate_script", REPO / "recipes/evaluate/evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return run_in_process(module.main, [str(REPO / "hparams/evaluate.yaml"), *args], capsys)


EVALUATE_ERRORS = [
    ("unknown_method", ["--methods=[imagic,sdedit_v9]"], "unknown method(s) ['sdedit_v9']"),
    ("missing_clip", [], "manifest entry b: input file"),
    ("silent_clip", [], "manifest entry b: "),
    ("missing_manifest", ["--manifest=nowhere.json"], "manifest 'nowhere.json' does not exist"),
    ("other_settings", ["--emb_steps=3"], "other edit settings (they differ in --emb_steps)"),
    ("inputs_inside_output", [], "lies in the output folder"),
]


@pytest.mark.parametrize("case,flags,message", EVALUATE_ERRORS, ids=[c[0] for c in EVALUATE_ERRORS])
def test_batch_evaluator_checks_every_clip_before_editing(case, flags, message, tiny_model_dir, tmp_path, capsys):
    write(tmp_path, "a.wav", signal(1.0, 16000), 16000)
    if case == "silent_clip":
        write(tmp_path, "b.wav", np.zeros((8000, 1), "float32"), 16000)
    elif case != "missing_clip":
        write(tmp_path, "b.wav", signal(1.0, 44100, 2), 44100)
    (tmp_path / "m.json").write_text(json.dumps({
        "a": {"wav": "a.wav", "target_prompt": "a dog barks", "edit_type": "addition"},
        "b": {"wav": "b.wav", "target_prompt": "a siren", "edit_type": "style_transfer"}}))
    out = tmp_path if case == "inputs_inside_output" else tmp_path / "eval"
    if case == "other_settings":
        out.mkdir()
        (out / "evaluate.json").write_text(json.dumps({"emb_steps": 2, "ft_steps": 2, "sample_steps": 3,
                                                       "etas": [0, 1], "backbone_source": str(tiny_model_dir)}))
    before = tree(tmp_path)
    edit_args = tiny_eval_args(tiny_model_dir)
    status, stderr = run_evaluate([f"--manifest={tmp_path / 'm.json'}", f"--output_folder={out}", *edit_args,
                                   *FAST, *flags], capsys)
    assert_one_error(status, stderr, message)
    assert tree(tmp_path) == before
