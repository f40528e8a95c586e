"""Every recipe runs end to end as a command on the tiny model; every recipe is complete.

One row per recipe in ``recipes.csv`` (see CONTRIBUTING.md).
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, edit_folder, tiny_args

ROWS = list(csv.DictReader(open(Path(__file__).parent / "recipes.csv")))
OUTPUTS = ("input.wav", "edit_eta0.00.wav", "edit_eta1.00.wav", "best.wav", "scores.csv",
           "spectrograms.png", "clap_vs_eta.png", "train_log.txt")


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[r["recipe"] for r in ROWS])
def test_recipe_runs_and_writes_every_output(row, request, tiny_model_dir, tmp_path):
    clip = request.getfixturevalue(row["clip"])
    cmd = [sys.executable, f"recipes/{row['recipe']}/edit.py", row["hparams"], f"--input_wav={clip}",
           f"--target_prompt={row['target_prompt']}", *tiny_args(tiny_model_dir, tmp_path / "out"),
           *row["extra_flags"].split()]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = edit_folder(tmp_path / "out", clip, row["target_prompt"])
    missing = [name for name in OUTPUTS if not (folder / name).is_file()]
    assert not missing, missing
    assert list((folder / "save").glob("CKPT*/embedding.ckpt"))
    assert not list(folder.rglob("*.py"))  # SpeechBrain's copy of the calling module is removed
    assert "torchvision" not in done.stdout + done.stderr  # SpeechBrain's warning, filtered: we save no figures
    log = (folder / "log.txt").read_text()
    noise = [line for line in log.splitlines() if " - numba." in line or " - matplotlib." in line]
    assert not noise, noise[:3]  # other libraries' DEBUG output stays out of the run log


def test_every_recipe_has_hparams_readme_and_a_test_row():
    tested = {row["recipe"] for row in ROWS}
    for script in sorted(REPO.glob("recipes/*/edit.py")):
        name = script.parent.name
        assert (REPO / "hparams" / f"{name}.yaml").is_file(), f"hparams/{name}.yaml missing"
        assert (script.parent / "README.md").is_file(), f"recipes/{name}/README.md missing"
        assert name in tested, f"recipes/{name} has no row in tests/recipes/recipes.csv"
        assert f"recipes/{name}/" in (REPO / "README.md").read_text(), f"README lacks recipes/{name}"
