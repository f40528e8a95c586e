"""A run killed with SIGKILL mid fine-tuning resumes from its last checkpoint and ends bit-identical
to an uninterrupted run; the same seed and inputs always give the same outputs."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from audio_editing.editing.checkpoints import COMPLETE
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.recipe import run_edit
from tests.conftest import REPO, edit_folder, tiny_args

OUTPUTS = ("edit_eta0.00.wav", "edit_eta1.00.wav", "best.wav", "scores.csv")


def float_clip(path):
    """A float wav, so that the edits are written as float and compared to the bit."""
    rng = np.random.default_rng(5)
    t = np.arange(16000) / 16000
    sf.write(str(path), (0.4 * np.sin(2 * np.pi * 330 * t) + 0.1 * rng.standard_normal(16000)).astype("float32"),
             16000, subtype="FLOAT")
    return path


def same_outputs(folder_a, folder_b):
    """Every edit's samples and every score equal (not the wav bytes: a float wav's PEAK chunk holds a time)."""
    for name in OUTPUTS:
        if name.endswith(".wav"):
            a, b = (sf.read(str(folder / name), dtype="float32")[0] for folder in (folder_a, folder_b))
            assert np.array_equal(a, b), name
        else:
            assert (folder_a / name).read_text() == (folder_b / name).read_text(), name
    return True


def edit_command(clip, model_dir, out_dir):
    return [sys.executable, "recipes/addition/edit.py", "hparams/addition.yaml", f"--input_wav={clip}",
            "--target_prompt=a dog barks", *tiny_args(model_dir, out_dir), "--emb_steps=4", "--ft_steps=40",
            "--ckpt_interval_steps=2", "--ckpt_min_minutes=0", "--log_interval=1", "--sample_steps=3"]


def subprocess_env():
    # the same thread count in every run: CPU kernels may sum in another order with another count
    return dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")


def finetune_checkpoint_step(save_folder):
    """The step of the newest complete fine-tuning checkpoint, or -1."""
    steps = [-1]
    for meta in save_folder.glob("CKPT*/CKPT.yaml"):
        if (meta.parent / COMPLETE).exists():
            data = yaml.safe_load(meta.read_text()) or {}
            if data.get("phase") == "finetune":
                steps.append(data["step"])
    return max(steps)


@pytest.mark.slow
def test_sigkill_mid_finetuning_resumes_and_matches_an_uninterrupted_run(tiny_model_dir, tmp_path):
    clip = float_clip(tmp_path / "clip.wav")
    killed_dir, reference_dir = tmp_path / "killed", tmp_path / "reference"
    killed, reference = edit_folder(killed_dir, clip), edit_folder(reference_dir, clip)
    save_folder = killed / "save"

    # 1. Start an edit and SIGKILL it once a fine-tuning checkpoint at step >= 2 is complete
    run = subprocess.Popen(edit_command(clip, tiny_model_dir, killed_dir), cwd=REPO, env=subprocess_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while finetune_checkpoint_step(save_folder) < 2:
        assert run.poll() is None, "the edit ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL
    assert not (killed / "best.wav").exists()

    # 2. Rerun the same command: it resumes from the checkpoint
    for out_dir in (killed_dir, reference_dir):
        done = subprocess.run(edit_command(clip, tiny_model_dir, out_dir), cwd=REPO, env=subprocess_env(),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]

    log = (killed / "train_log.txt").read_text().splitlines()
    resumed = [i for i, line in enumerate(log) if line.startswith("resumed_from: finetune step")]
    assert len(resumed) == 1, log
    step = int(log[resumed[0]].rsplit(" ", 1)[1])
    assert step >= 2
    after = [int(m.group(1)) for line in log[resumed[0]:] if (m := re.match(r"phase: finetune, step: (\d+)", line))]
    assert after == list(range(step + 1, 41))  # steps up to the checkpoint were not run again
    assert sum(line.startswith("phase: embedding") for line in log) == 4  # step 1 ran once

    # 3. The outputs are those of an uninterrupted run, to the bit
    assert same_outputs(killed, reference)
    assert sf.info(str(reference / "best.wav")).subtype == "FLOAT"


@pytest.mark.slow
def test_same_seed_and_inputs_give_bit_identical_outputs(tiny_model_dir, tmp_path):
    clip = float_clip(tmp_path / "clip.wav")
    results = [run_edit(ImagicEditor, ["hparams/addition.yaml", f"--input_wav={clip}", "--target_prompt=a dog barks",
                                       *tiny_args(tiny_model_dir, tmp_path / name)]) for name in ("a", "b")]
    assert torch.equal(results[0].outputs, results[1].outputs)
    assert results[0].scores == results[1].scores
    assert same_outputs(edit_folder(tmp_path / "a", clip), edit_folder(tmp_path / "b", clip))
