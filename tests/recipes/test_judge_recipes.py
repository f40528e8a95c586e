"""``recipes/toy_world/train_judge.py`` and ``check_judge.py`` end to end on tiny settings (the tiny
model folder's VAE and vocoder make the round trips)."""

import json
import os
import subprocess
import sys

import pytest

from audio_editing.editing.edit_types import EDIT_TYPES
from audio_editing.registry import load_judge
from tests.conftest import REPO

RECIPE = REPO / "recipes" / "toy_world"
TINY = ["--num_train_clips=48", "--num_train_vae=16", "--num_train_vocoded=8", "--num_valid_clips=8",
        "--channels=[4,8]", "--gru_hidden=8", "--steps=60", "--batch_size=8", "--warmup_steps=0", "--lr=0.01",
        "--log_interval=20", "--noprogressbar"]


def run(script, *args, timeout=300):
    return subprocess.run([sys.executable, str(RECIPE / script), *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    out = tmp_path_factory.mktemp("judge")
    done = run("train_judge.py", RECIPE / "hparams" / "judge.yaml", f"--output_folder={out}",
               f"--backbone_source={tiny_model_dir}", *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.mark.slow
def test_training_lowers_the_loss_and_writes_a_judge_that_loads(trained):
    log = (trained / "train_log.txt").read_text()
    losses = [float(line.split("train loss: ")[1]) for line in log.splitlines() if "train loss" in line]
    assert len(losses) == 3 and losses[-1] < losses[0], log
    assert "stage: post-processing" in log
    judge = load_judge(str(trained / "judge"))
    assert judge.config["channels"] == [4, 8] and judge.config["median_frames"] in (1, 3, 5, 7, 9)


@pytest.mark.slow
def test_a_rerun_reuses_the_rendered_clips(trained, tiny_model_dir):
    done = run("train_judge.py", RECIPE / "hparams" / "judge.yaml", f"--output_folder={trained}",
               f"--backbone_source={tiny_model_dir}", *[a for a in TINY if not a.startswith("--steps")], "--steps=1")
    assert done.returncode == 0, done.stderr[-2000:]
    log = (trained / "train_log.txt").read_text()
    assert log.count("stage: clips") == 1  # rendered once


@pytest.mark.slow
def test_check_writes_its_numbers_without_machine_paths(trained, tiny_model_dir, tmp_path):
    output = tmp_path / "check.json"
    done = run("check_judge.py", trained / "judge", f"--backbone_source={tiny_model_dir}", "--num_clips=6",
               f"--output_json={output}", "--noprogressbar")
    assert done.returncode == 0, done.stderr[-2000:]
    numbers = json.loads(output.read_text())
    for key in ("event_f1_rendered", "segment_f1_rendered", "event_f1_roundtrip"):
        assert 0.0 <= numbers["results"][key] <= 1.0
    assert set(numbers["benchmark"]) == set(EDIT_TYPES)
    assert numbers["benchmark"]["addition"]["clips"] == 9
    for edit_type, rows in numbers["benchmark"].items():  # each rate is its list of failed clips, counted
        for row in ("reference", "identity"):
            failed, clips = rows[f"{row}_failed"], rows["clips"]
            assert rows[f"{row}_success"] == pytest.approx(1 - len(failed) / clips, abs=1e-4), (edit_type, row)
            assert all(clip.startswith(edit_type) for clip in failed)
    assert str(REPO) not in output.read_text()


def test_check_without_a_judge_is_one_line(tmp_path):
    done = run("check_judge.py", tmp_path)
    assert done.returncode == 2 and done.stderr.strip().startswith("error: no judge in")
    assert len(done.stderr.strip().splitlines()) == 1
