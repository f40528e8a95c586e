#!/usr/bin/env python3
"""The pooled table of the fresh sets finished so far, while a ``recipes/evaluate/fresh_sets.py`` run goes on.

``fresh_sets.py`` writes ``pooled.md`` once every set is done; this prints the same table over the sets whose
every (clip, method) row is in: ``python scripts/pool_fresh_sets.py results/fresh_sets``.
"""

import sys
from pathlib import Path

from audio_editing.editing.methods import method_applies
from audio_editing.evaluation.fresh_sets import pooled_rows, pooled_table, read_decision_seeds
from audio_editing.evaluation.manifests import read_manifest
from audio_editing.evaluation.rows import read_results

REPO = Path(__file__).resolve().parents[1]
METHODS = ("imagic", "layer", "sdedit", "ddpm_inversion", "inversion_free", "identity", "reference")


def main(folder: Path) -> None:
    results = {}
    for manifest in sorted((folder / "sets").glob("seed*/manifest.json")):
        seed = int(manifest.parent.name[4:])
        entries = read_manifest(manifest)
        rows = read_results(folder / f"seed{seed}" / "results.csv")
        wanted = {(e["id"], m) for e in entries for m in METHODS if method_applies(m, e["edit_type"])}
        if wanted <= {(r["id"], r["method"]) for r in rows}:
            results[seed] = [r for r in rows if (r["id"], r["method"]) in wanted]
    if not results:
        sys.exit(f"no finished set in {folder}")
    decision_seeds = read_decision_seeds(REPO / "benchmarks" / "toy_world" / "decision_seeds.txt")
    print(pooled_table(pooled_rows(results), sorted(results), decision_seeds))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/fresh_sets"))
