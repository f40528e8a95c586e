#!/usr/bin/env python3
"""Web demo: edit audio with a text prompt in the browser, with the recipes' own editor and scorer.

Upload or record a clip (or pick one of the benchmark set), choose the edit type, type the target
prompt, and get one edit per eta with the recipes' spectrograms, scores and downloads. Edits
queue and run one at a time; each visitor sees only their own files.

To run (from the repo root; needs ``pip install -e .[demo]``)::

    python recipes/demo/app.py hparams/demo.yaml                   # http://127.0.0.1:7860
    python recipes/demo/app.py hparams/demo.yaml --backbone=tango --device=cuda --port=7861

Any recipe hparam given here (``--emb_steps=50``, ``--etas=[0,0.5,1]``, ...) applies to every edit.

Authors: the audio_editing developers
"""

from pathlib import Path

from audio_editing.cli import run_cli
from audio_editing.demo import launch_demo

if __name__ == "__main__":
    run_cli(lambda argv: launch_demo(argv, repo=Path(__file__).resolve().parents[2]))
