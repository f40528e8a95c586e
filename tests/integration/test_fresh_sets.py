"""Fresh sets: decision seeds refused, every method on sets made from other seeds, one pooled table."""

import csv
import importlib.util
import os
import subprocess
import sys

import pytest

from audio_editing.editing.edit_types import EDIT_TYPES
from audio_editing.errors import UserError
from audio_editing.evaluation.fresh_sets import fresh_seeds, pooled_rows, pooled_table, read_decision_seeds
from audio_editing.evaluation.manifests import read_manifest
from audio_editing.evaluation.rows import read_results
from tests.conftest import REPO, tiny_eval_args

DECISION_SEEDS = REPO / "benchmarks" / "toy_world" / "decision_seeds.txt"


def fresh_sets_script():
    spec = importlib.util.spec_from_file_location("fresh_sets_recipe", REPO / "recipes" / "evaluate" / "fresh_sets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_decision_seeds_are_the_sets_decisions_saw_and_fresh_sets_take_the_next():
    assert read_decision_seeds(DECISION_SEEDS) == [0, 1, 2, 3, 4, 5]  # the 27 clips, then seeds 1-5
    assert fresh_seeds(read_decision_seeds(DECISION_SEEDS), sets=4) == [6, 7, 8, 9]
    assert fresh_seeds([0, 2], sets=3) == [1, 3, 4]


def test_a_decision_seed_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the hparams' paths are relative to the repo root
    out = tmp_path / "fresh"
    main = fresh_sets_script().main
    with pytest.raises(UserError, match=r"^seed\(s\) 3 are decision seeds, which decisions have seen; choose others"):
        main(["hparams/fresh_sets.yaml", "--seeds=[6,3]", f"--output_folder={out}", "--judge_source=null"])
    for bad, message in (("--seeds=[6,6]", "distinct non-negative"), ("--sets=0", "positive number of fresh sets"),
                         ("--n_per_type=0", "positive number of clips"), ("--methods=[imagic,magic]", "choose from"),
                         ("--decision_seeds=nowhere.txt", "decision seeds file 'nowhere.txt' does not exist")):
        with pytest.raises(UserError, match=message):
            main(["hparams/fresh_sets.yaml", bad, f"--output_folder={out}"])
    with pytest.raises(UserError, match="scored by the judge"):
        main(["hparams/fresh_sets.yaml", "--seeds=[6]", f"--output_folder={out}", "--judge_source=null"])
    bad_list = tmp_path / "seeds.txt"
    bad_list.write_text("0\nseven  # a typo\n")
    with pytest.raises(UserError, match=r"seeds.txt, line 2: 'seven' is not a seed"):
        read_decision_seeds(bad_list)
    assert not out.exists()


def judged_rows(edit_type, method, successes, preservations):
    return [{"id": f"{edit_type}_{i:02d}", "edit_type": edit_type, "method": method, "judge_success": str(s),
             "judge_preservation": str(p)} for i, (s, p) in enumerate(zip(successes, preservations))]


def test_the_pooled_table_counts_every_set_and_their_pool_with_wilson_intervals():
    # addition, imagic: 5/9 on seed 6 (preservation 0.9), 4/9 on seed 7 (0.8); identity 0/9 and reference 9/9 on both
    results = {seed: [*judged_rows("addition", "imagic", [1] * wins + [0] * (9 - wins), [pres] * 9),
                      *judged_rows("addition", "identity", [0] * 9, [1.0] * 9),
                      *judged_rows("addition", "reference", [1] * 9, [1.0] * 9)]
               for seed, wins, pres in ((6, 5, 0.9), (7, 4, 0.8))}
    rows = {(r["method"], r["set"]): r for r in pooled_rows(results)}
    pooled = rows[("imagic", "pooled")]
    assert (pooled["clips"], pooled["successes"], pooled["success_rate"]) == (18, 9, 0.5)
    assert pooled["preservation"] == pytest.approx(0.85)
    # Wilson 95 % by hand: 9/18 -> centre 0.5, half 1.96 / (1 + 1.96^2/18) * sqrt(0.25/18 + 1.96^2/(4 * 18^2))
    assert (pooled["wilson_low"], pooled["wilson_high"]) == pytest.approx((0.2903, 0.7097), abs=1e-4)
    assert (rows[("imagic", 6)]["successes"], rows[("imagic", 7)]["successes"]) == (5, 4)
    assert (rows[("identity", "pooled")]["wilson_low"], rows[("identity", "pooled")]["wilson_high"]) == \
        pytest.approx((0.0, 0.1759), abs=1e-4)  # 0/18: upper bound z^2 / (n + z^2)
    assert (rows[("reference", 6)]["wilson_low"], rows[("reference", 6)]["wilson_high"]) == \
        pytest.approx((0.7009, 1.0), abs=1e-4)  # 9/9
    lines = pooled_table(pooled_rows(results), [6, 7], [0, 1, 2, 3, 4, 5]).splitlines()
    assert "seeds 6, 7; decision seeds (never used here): 0, 1, 2, 3, 4, 5" in lines[2]
    assert lines[4:] == [
        "| edit type | method | seed 6 | seed 7 | pooled success [95% CI] | pooled preservation |",
        "|---|---|---|---|---|---|",
        "| addition | imagic | 5/9, 0.90 | 4/9, 0.80 | 9/18 = 0.50 [0.29, 0.71] | 0.85 |",
        "| addition | identity | 0/9, 1.00 | 0/9, 1.00 | 0/18 = 0.00 [0.00, 0.18] | 1.00 |",
        "| addition | reference | 9/9, 1.00 | 9/9, 1.00 | 18/18 = 1.00 [0.82, 1.00] | 1.00 |"]


@pytest.mark.slow
def test_fresh_sets_run_every_method_on_sets_from_other_seeds_and_pool_them(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(REPO)
    out = tmp_path / "fresh"
    methods = ["layer", "identity", "reference"]  # the edits' rows are evaluate.py's (tested there); layer: addition
    fresh_sets_script().main(["hparams/fresh_sets.yaml", "--sets=2", "--n_per_type=1", f"--methods=[{','.join(methods)}]",
                              f"--output_folder={out}", *tiny_eval_args(tiny_model_dir)])
    for seed in (6, 7):  # the first two seeds no decision saw
        entries = read_manifest(out / "sets" / f"seed{seed}" / "manifest.json")
        assert sorted(e["edit_type"] for e in entries) == sorted(EDIT_TYPES)  # one clip per edit type
        rows = read_results(out / f"seed{seed}" / "results.csv")
        assert sorted((r["id"], r["method"]) for r in rows) == sorted(
            (e["id"], m) for e in entries for m in methods if m != "layer" or e["edit_type"] == "addition")
        assert all(r["judge_success"] not in (None, "") for r in rows)
    with open(out / "pooled.csv", newline="") as f:
        pooled = list(csv.DictReader(f))
    by = {(r["edit_type"], r["method"], r["set"]): r for r in pooled}
    for (edit_type, method, name), row in by.items():
        if name == "pooled":  # the pool is the sum of its sets
            per_set = [by[(edit_type, method, str(seed))] for seed in (6, 7)]
            assert int(row["clips"]) == 2 and int(row["successes"]) == sum(int(r["successes"]) for r in per_set)
    assert ("style_transfer", "layer", "pooled") not in by and ("addition", "layer", "pooled") in by
    assert by[("inpainting", "identity", "pooled")]["successes"] == "0"
    table = (out / "pooled.md").read_text()
    assert "| seed 6 | seed 7 | pooled success [95% CI] |" in table and "| inpainting | reference | " in table


@pytest.mark.slow
def test_under_torchrun_the_method_edits_after_a_barrier(tmp_path, tiny_model_dir):
    """Each edit type is its own batch and ends with barriers; the method's checkpoints must still be written by
    every rank in the edit types after the first (a process group left open made SpeechBrain broadcast them)."""
    out = tmp_path / "fresh"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "recipes/evaluate/fresh_sets.py", "hparams/fresh_sets.yaml", "--sets=1", "--n_per_type=2",
           "--methods=[imagic,identity]", f"--output_folder={out}", *tiny_eval_args(tiny_model_dir)]
    done = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    entries = read_manifest(out / "sets" / "seed6" / "manifest.json")
    rows = read_results(out / "seed6" / "results.csv")
    assert sorted((r["id"], r["method"]) for r in rows) == sorted(
        (e["id"], m) for e in entries for m in ("imagic", "identity"))
    assert len(entries) == 2 * len(EDIT_TYPES) and not (out / "seed6" / "ranks").exists()
