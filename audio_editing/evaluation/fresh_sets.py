"""Fresh benchmark sets: the headline measured on sets no decision saw, pooled into one table.

Decisions (defaults, selection rules, options) are made on the decision seeds, listed in one file
(``benchmarks/toy_world/decision_seeds.txt``, read by :func:`read_decision_seeds`). The headline is measured on
sets that a benchmark generator makes from other seeds (:func:`fresh_seeds` refuses a decision seed):
:func:`evaluate_fresh_sets` makes each set, runs every method on every edit type of it with the judge
(``batch.evaluate_manifest``; a method for some edit types only, such as ``layer``, runs on those), and
:func:`pooled_table` writes one table: judge success with its 95 % Wilson interval and mean preservation, per
edit type and method, per set and pooled over the sets (with 9 clips per type, one set's interval is too wide
to separate two methods; four sets give 36 clips per type).

``output_folder`` holds ``sets/seed<N>/`` (the generated set: ``manifest.json`` and its wavs), ``seed<N>/``
(that set's results folder, as ``recipes/evaluate/evaluate.py`` writes one, so a killed run resumes),
``pooled.md`` and ``pooled.csv``. The generator is a callable ``make_set(folder, seed=, n_per_type=) ->
manifest path`` (the hparams name the toy world's ``make_benchmark``), so this module names no model family.
"""

import json
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional

from audio_editing.cli import list_arg
from audio_editing.data.audio import atomic_write
from audio_editing.editing.edit_types import EDIT_TYPES
from audio_editing.editing.methods import method_applies
from audio_editing.errors import UserError
from audio_editing.evaluation import batch
from audio_editing.evaluation.distributed import Shard
from audio_editing.evaluation.manifests import read_manifest
from audio_editing.evaluation.rows import METHODS, read_results, write_csv
from audio_editing.evaluation.tables import wilson_interval

POOLED_COLUMNS = ["edit_type", "method", "set", "clips", "successes", "success_rate", "wilson_low", "wilson_high",
                  "preservation"]


def read_decision_seeds(path) -> List[int]:
    """The seeds listed in ``path``: one a line, ``#`` starts a comment.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("# decision seeds\\n0  # the 27 clips\\n1\\n   # a note\\n")
    >>> read_decision_seeds(f.name)
    [0, 1]
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"the decision seeds file '{path}' does not exist; pass --decision_seeds=<file>")
    seeds = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        value = line.partition("#")[0].strip()
        if not value:
            continue
        if not re.fullmatch(r"\d+", value):
            raise UserError(f"{path}, line {number}: '{value}' is not a seed; write one non-negative integer a line")
        seeds.append(int(value))
    return seeds


def fresh_seeds(decision_seeds: List[int], sets: Optional[int] = None, seeds=None) -> List[int]:
    """``seeds`` checked against ``decision_seeds``, or (``seeds`` None) the first ``sets`` seeds not on the list.

    Example
    -------
    >>> fresh_seeds([0, 1, 2, 3, 4, 5], sets=4)
    [6, 7, 8, 9]
    >>> fresh_seeds([0, 1], seeds="[12, 7]")
    [12, 7]
    """
    if seeds is None:
        if not isinstance(sets, int) or isinstance(sets, bool) or sets < 1:
            raise UserError(f"--sets={sets!r}: give a positive number of fresh sets, or --seeds=[...]")
        chosen, seed = [], 0
        while len(chosen) < sets:
            if seed not in decision_seeds:
                chosen.append(seed)
            seed += 1
        return chosen
    try:
        chosen = [int(s) for s in list_arg(seeds if not isinstance(seeds, int) else [seeds])]
    except ValueError:
        raise UserError(f"--seeds={seeds!r}: give non-negative integers, e.g. --seeds=[6,7]") from None
    if not chosen or min(chosen) < 0 or len(set(chosen)) < len(chosen):
        raise UserError(f"--seeds={seeds!r}: give distinct non-negative integers, e.g. --seeds=[6,7]")
    used = [s for s in chosen if s in decision_seeds]
    if used:
        raise UserError(f"seed(s) {', '.join(map(str, used))} are decision seeds, which decisions have seen; choose "
                        "others for fresh sets, or leave --seeds out to take the first seeds not on the list")
    return chosen


def make_sets(output_folder: Path, seeds: List[int], n_per_type: int, make_set: Callable) -> Dict[int, Path]:
    """{seed: manifest} of each set under ``output_folder/sets/seed<N>/``, made where it is not there yet; a set
    there with another number of clips per edit type is refused (its results would not be this run's)."""
    manifests = {}
    for seed in seeds:
        folder = output_folder / "sets" / f"seed{seed}"
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            manifest = Path(make_set(folder, seed=seed, n_per_type=n_per_type))
        manifests[seed] = manifest
    return manifests


def check_existing_sets(output_folder: Path, seeds: List[int], n_per_type: int) -> None:
    for seed in seeds:
        manifest = output_folder / "sets" / f"seed{seed}" / "manifest.json"
        if manifest.is_file():
            counts = {}
            for entry in json.loads(manifest.read_text()).values():
                counts[entry["edit_type"]] = counts.get(entry["edit_type"], 0) + 1
            if set(counts.values()) != {n_per_type}:
                raise UserError(f"'{manifest}' holds {max(counts.values())} clips per edit type, not --n_per_type="
                                f"{n_per_type}; pass that --n_per_type or another --output_folder")


def evaluate_fresh_sets(seeds: List[int], decision_seeds: List[int], n_per_type: int, make_set: Callable,
                        methods: List[str], output_folder: Path, edit_args: List[str], repo: Path, judge,
                        shard: Shard = None) -> Dict[int, List[dict]]:
    """Make the set of each seed (a decision seed is refused), edit every clip with every method that runs on
    its edit type, judge it; write ``pooled.md`` and ``pooled.csv``. Returns {seed: that set's result rows of
    ``methods``}. Everything is checked before anything is written."""
    shard = shard or Shard.from_env()
    seeds = fresh_seeds(decision_seeds, seeds=seeds)
    output_folder = Path(output_folder)
    methods = list_arg(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UserError(f"--methods={methods}: choose from {', '.join(METHODS)}")
    if judge is None:
        raise UserError("fresh sets are scored by the judge: set --judge_source to a model folder with a judge/ "
                        "inside (the toy world's: embedded:toy_world)")
    if not isinstance(n_per_type, int) or isinstance(n_per_type, bool) or n_per_type < 1:
        raise UserError(f"--n_per_type={n_per_type!r}: give a positive number of clips per edit type")
    check_existing_sets(output_folder, seeds, n_per_type)
    for seed in seeds:  # command-line overrides, and a results folder made with other settings
        batch.check_settings(output_folder / f"seed{seed}", edit_args, repo, [])
    if shard.is_main:
        make_sets(output_folder, seeds, n_per_type, make_set)
    shard.barrier()
    manifests = make_sets(output_folder, seeds, n_per_type, make_set)  # all there now: read only
    results = {}
    for seed, manifest in manifests.items():
        entries = read_manifest(manifest)
        for edit_type in dict.fromkeys(e["edit_type"] for e in entries):
            batch.evaluate_manifest([e for e in entries if e["edit_type"] == edit_type],
                                    [m for m in methods if method_applies(m, edit_type)], output_folder / f"seed{seed}",
                                    edit_args, repo, shard, judge)
        ids = {e["id"] for e in entries}
        results[seed] = [r for r in read_results(output_folder / f"seed{seed}" / "results.csv")
                         if r["id"] in ids and r["method"] in methods]
    if shard.is_main:
        rows = pooled_rows(results)
        write_csv(output_folder / "pooled.csv", rows, POOLED_COLUMNS)
        table = pooled_table(rows, seeds, decision_seeds)
        atomic_write(output_folder / "pooled.md", lambda tmp: Path(tmp).write_text(table))
    return results


def judged(rows: List[dict], column: str) -> List[float]:
    return [float(r[column]) for r in rows if r.get(column) not in (None, "", "None")]


def pooled_rows(results: Dict[int, List[dict]]) -> List[dict]:
    """Per (edit type, method): one row per set and one pooled over the sets (``set`` = ``pooled``), each with
    its clips, successes, success rate and 95 % Wilson interval, and mean preservation over its clips.

    Example
    -------
    >>> rows = {6: [{"edit_type": "addition", "method": "imagic", "judge_success": "1", "judge_preservation": "1"}],
    ...         7: [{"edit_type": "addition", "method": "imagic", "judge_success": "0", "judge_preservation": "0.5"}]}
    >>> [(r["set"], r["clips"], r["successes"], r["preservation"]) for r in pooled_rows(rows)]
    [(6, 1, 1, 1.0), (7, 1, 0, 0.5), ('pooled', 2, 1, 0.75)]
    """
    groups: Dict[tuple, Dict] = {}
    for seed, rows in results.items():
        for row in rows:
            groups.setdefault((row["edit_type"], row["method"]), {}).setdefault(seed, []).append(row)

    def order(key):
        edit_type, method = key
        return (EDIT_TYPES.index(edit_type) if edit_type in EDIT_TYPES else len(EDIT_TYPES),
                list(METHODS).index(method) if method in METHODS else len(METHODS))

    table = []
    for (edit_type, method), by_set in sorted(groups.items(), key=lambda item: order(item[0])):
        everything = [row for seed in by_set for row in by_set[seed]]
        for name, rows in [*by_set.items(), ("pooled", everything)]:
            successes = judged(rows, "judge_success")
            if not successes:
                continue
            low, high = wilson_interval(sum(successes), len(successes))
            preservation = judged(rows, "judge_preservation")
            table.append({"edit_type": edit_type, "method": method, "set": name, "clips": len(successes),
                          "successes": round(sum(successes)), "success_rate": sum(successes) / len(successes),
                          "wilson_low": low, "wilson_high": high,
                          "preservation": sum(preservation) / len(preservation) if preservation else None})
    return table


def pooled_table(rows: List[dict], seeds: List[int], decision_seeds: List[int]) -> str:
    """``pooled.md``: one line per edit type and method; per set its successes and preservation, pooled the
    success rate with its 95 % Wilson interval and the mean preservation.

    Example
    -------
    >>> rows = pooled_rows({6: [{"edit_type": "addition", "method": "imagic", "judge_success": "1",
    ...                          "judge_preservation": "1"}]})
    >>> pooled_table(rows, [6], [0, 1]).splitlines()[-1]
    '| addition | imagic | 1/1, 1.00 | 1/1 = 1.00 [0.21, 1.00] | 1.00 |'
    """
    def preservation(row):
        return "-" if row["preservation"] is None else f"{row['preservation']:.2f}"

    cells: Dict[tuple, Dict] = {}
    for row in rows:
        cells.setdefault((row["edit_type"], row["method"]), {})[row["set"]] = row
    lines = ["# Fresh sets: judge success and preservation", "",
             f"Sets made from seeds {', '.join(map(str, seeds))}; decision seeds (never used here): "
             f"{', '.join(map(str, decision_seeds))}. Per set: clips the judge "
             "counts a success / clips, and mean preservation (share of the events that should stay still heard "
             "where they were). Pooled over the sets: successes / clips = success rate [95 % Wilson interval], and "
             "mean preservation over all clips. identity: the input unchanged (the judge must give ~0); reference: "
             "the reference edit (>= 0.9).", "",
             "| edit type | method | " + " | ".join(f"seed {s}" for s in seeds)
             + " | pooled success [95% CI] | pooled preservation |",
             "|" + "---|" * (len(seeds) + 4)]
    for (edit_type, method), by_set in cells.items():
        per_set = [f"{by_set[s]['successes']}/{by_set[s]['clips']}, {preservation(by_set[s])}" if s in by_set
                   else "-" for s in seeds]
        pooled = by_set["pooled"]
        lines.append(f"| {edit_type} | {method} | " + " | ".join(per_set)
                     + f" | {pooled['successes']}/{pooled['clips']} = {pooled['success_rate']:.2f} "
                     f"[{pooled['wilson_low']:.2f}, {pooled['wilson_high']:.2f}] | {preservation(pooled)} |")
    return "\n".join(lines) + "\n"
