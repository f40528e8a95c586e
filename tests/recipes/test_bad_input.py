"""Bad input: one line on stderr, exit status 2, no traceback, nothing written."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO, tiny_args, write_scene_clip


def make_input(kind, folder, clip):
    path = folder / f"{kind}.wav"
    if kind == "missing":
        return folder / "does_not_exist.wav"
    if kind == "not_audio":
        path.write_text("this is not audio\n")
    elif kind == "empty":
        sf.write(str(path), np.zeros(0, dtype="float32"), 16000)
    elif kind == "nan":
        data = np.zeros(8000, dtype="float32")
        data[100] = np.nan
        sf.write(str(path), data, 16000, subtype="FLOAT")
    elif kind == "no_gap":  # a rain bed under the event: no digital silence anywhere
        return write_scene_clip(path, ["knock"], seed=3, background="rain")
    else:
        return clip
    return path


CASES = [  # (input kind, recipe, extra flags, words the message must contain)
    ("missing", "addition", [], "does not exist"),
    ("not_audio", "addition", [], "cannot read"),
    ("empty", "addition", [], "no audio samples"),
    ("nan", "addition", [], "NaN"),
    ("good", "addition", ["--not_a_key=3"], "unknown hparam '--not_a_key'"),
    ("good", "addition", ["--etas=[0,2.5]"], "outside [0, 1.5]"),
    ("good", "addition", ["--target_prompt=   "], "empty"),
    ("good", "addition", ["--backbone=nonexistent"], "unknown backbone"),
    ("good", "style_transfer", ["--eta_selection=best_clap"], "--eta_selection must be one of max_sum, text_gain, max_text"),
    ("good", "addition", ["--text_gain_margin=lots"], "--text_gain_margin must be a number"),
    ("good", "style_transfer", ["--eta_selection=text_span"], "which only inpainting has"),
    ("good", "inpainting", ["--mask_start=0.5", "--mask_end=9"], "outside the clip"),
    ("no_gap", "inpainting", [], "no blank span"),
]


@pytest.mark.parametrize("kind,recipe,flags,message", CASES,
                         ids=[f"{c[0]}-{c[1]}-{''.join(c[2])[:20]}" for c in CASES])
def test_bad_input_gives_one_line_and_writes_nothing(kind, recipe, flags, message, clip, tiny_model_dir,
                                                     tmp_path):
    source = make_input(kind, tmp_path, clip)
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "out"
    cmd = [sys.executable, f"recipes/{recipe}/edit.py", f"hparams/{recipe}.yaml", f"--input_wav={source}",
           "--target_prompt=a dog barks", *tiny_args(tiny_model_dir, out), *flags]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not out.exists() and sorted(tmp_path.rglob("*")) == before
