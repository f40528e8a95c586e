#!/usr/bin/env python3
"""Style transfer under ``text_onset`` and ``text_onset_timed``, chosen again from the committed sweeps.

Every row of the style-transfer results table, re-chosen with ``audio_editing.evaluation.rejudge.reselect``
(what ``--rejudge --reselect`` does to a results folder) from the CSVs committed in the experiment records:

* the baselines' ``eta_scores`` hold their whole strength sweep, so their re-choice is exact;
* the default's hold only the inversion-strength sweep its rule kept. Where its old choice shares an onset with
  the input (onset F1 > 0) the timed rule chooses the same value from both sweeps, which the script checks;
  the clips where it does not are marked, and their set is rerun
  (``docs/experiments/2026-12-02-style-transfer-selection-rule/style_timed_seed1.csv``).

Run from the repo root: ``python scripts/reselect_style.py``
"""

import copy
import csv
from pathlib import Path

from audio_editing.evaluation.rejudge import reselect

DOCS = Path("docs/experiments")
ETAS = "2026-12-02-style-transfer-eta-range/"                #  the default with etas to 1.5, sets 27, 1, 2
SETS = "2026-12-02-mixed-inversion-source-and-more-sets/"    # every row on seeds 3-5
BED = "2026-12-01-style-transfer-background/"                # the baselines with the background put back
DEFAULT = {"27 clips": ETAS + "style_etas_to_15_bench27", "seed 1": ETAS + "style_etas_to_15_seed1",
           "seed 2": ETAS + "style_etas_to_15_seed2", "seed 3": SETS + "style_default_seed3",
           "seed 4": SETS + "style_default_seed4", "seed 5": SETS + "style_all_methods_seed5"}
BASELINES = {"27 clips": [BED + "style_all_methods_bench27"],
             "seed 1": [ETAS + "style_ddpm_inversion_sdedit_seed1", BED + "style_all_methods_seed1"],
             "seed 2": [BED + "style_all_methods_seed2"], "seed 3": [SETS + "style_baselines_seed3"],
             "seed 4": [SETS + "style_baselines_seed4"], "seed 5": [SETS + "style_all_methods_seed5"]}
METHODS = ("imagic", "sdedit", "ddpm_inversion", "inversion_free")


def read(name: str, suffix: str = ""):
    with open(DOCS / f"{name}{suffix}.csv", newline="") as f:
        return list(csv.DictReader(f))


def load(names, methods):
    """Results rows and sweeps of ``methods`` from the runs ``names`` (the first run of a (clip, method) wins)."""
    rows, sweeps = {}, {}
    for name in names:
        for row in read(name):
            if row["edit_type"] == "style_transfer" and row["method"] in methods:
                rows.setdefault((row["id"], row["method"]), row)
        taken = {}
        for row in read(name, "_eta_scores"):
            key = (row["id"], row["method"])
            if key in rows and key not in sweeps:
                taken.setdefault(key, []).append(row)
        sweeps.update(taken)
    return rows, sweeps


def cell(rows) -> str:
    success = sum(float(r["judge_success"]) for r in rows)
    preservation = sum(float(r["judge_preservation"]) for r in rows) / len(rows)
    return f"{success:.0f}/{len(rows)}, {preservation:.3f}"


def main():
    table = {}
    for edit_set in DEFAULT:
        for method in METHODS:
            names = [DEFAULT[edit_set]] if method == "imagic" else BASELINES[edit_set]
            rows, sweeps = load(names, (method,))
            if not rows:
                continue
            old, new = list(rows.values()), copy.deepcopy(list(rows.values()))
            reselect(old, sweeps, "text_onset", 0.3)
            reselect(new, sweeps, "text_onset_timed", 0.3)
            note = ""
            if method == "imagic":
                moved = [r["id"] for r in old if float(r["onset_f1"]) <= 0]
                same = all(a["best_eta"] == b["best_eta"] for a, b in zip(old, new) if a["id"] not in moved)
                assert same, "a choice with an onset kept moved: the script's premise is wrong"
                note = f" (rerun needed: {', '.join(moved)})" if moved else ""
            table.setdefault(method, []).append(f"{edit_set}: {cell(old)} -> {cell(new)}{note}")
    for method, cells in table.items():
        print(f"{method}\n  " + "\n  ".join(cells))


if __name__ == "__main__":
    main()
