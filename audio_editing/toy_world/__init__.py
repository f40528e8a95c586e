"""The embedded toy world's ground truth: a sound-event detector that judges edits.

``judge.py`` holds the detector (a small CRNN on log-mel), its event annotations and the
per-edit-type success rules; ``judge_train.py`` trains and checks it
(``recipes/toy_world/train_judge.py``, ``recipes/toy_world/check_judge.py``). The judge is
never used to pick eta or to train anything the editor uses: it only says what an output
contains, so a benchmark table can say whether an edit happened.
"""
