"""Bad input at each command-line entry point, as a separate process: exit status 2, one ``error:`` line on
stderr, no traceback, nothing written. One case per entry point: the process boundary is what is tested here;
every kind of bad input is tested in-process in ``tests/robustness/test_input_corpus.py``."""

import subprocess
import sys

import pytest

from tests.conftest import REPO, tiny_args, tiny_eval_args

pytestmark = pytest.mark.slow  # a Python process with the toolkit's imports each

CASES = [  # (entry point and its arguments before the flags, extra flags, words the message must contain)
    (["recipes/addition/edit.py", "hparams/addition.yaml"], ["--etas=[0,2.5]"], "outside [0, 1.5]"),
    (["recipes/style_transfer/edit.py", "hparams/style_transfer.yaml"], ["--not_a_key=3"],
     "unknown hparam '--not_a_key'"),
    (["recipes/inpainting/edit.py", "hparams/inpainting.yaml"], ["--mask_start=0.5", "--mask_end=9"],
     "outside the clip"),
    (["recipes/evaluate/evaluate.py", "hparams/evaluate.yaml"], ["--methods=[imagic,sdedit_v9]"],
     "unknown method(s) ['sdedit_v9']"),
]


@pytest.mark.parametrize("entry,flags,message", CASES, ids=[c[0][0].split("/")[1] for c in CASES])
def test_bad_input_gives_one_line_and_writes_nothing(entry, flags, message, clip, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    if entry[0].startswith("recipes/evaluate"):
        manifest = tmp_path / "m.json"
        manifest.write_text(f'{{"a": {{"wav": "{clip}", "target_prompt": "a dog barks", "edit_type": "addition"}}}}')
        args = [f"--manifest={manifest}", f"--output_folder={out}", *tiny_eval_args(tiny_model_dir)]
    else:
        args = [f"--input_wav={clip}", "--target_prompt=a dog barks", *tiny_args(tiny_model_dir, out)]
    before = sorted(tmp_path.rglob("*"))
    done = subprocess.run([sys.executable, *entry, *args, *flags], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not out.exists() and sorted(tmp_path.rglob("*")) == before
