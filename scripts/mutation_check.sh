#!/usr/bin/env bash
# Mutation testing: mutmut mutates the audio path (audio_editing/data/) and the selection rules
# (audio_editing/editing/selection.py) and runs, on each mutant, the unit tests that exercise them
# (setup.cfg's [mutmut] section). Prints the counts; `.venv/bin/mutmut results` lists the survivors,
# `.venv/bin/mutmut show <name>` shows one. Not part of CI (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
AUDIO_EDITING_EXTRAS=test,demo source scripts/ensure_venv.sh
.venv/bin/python -m pip install -q "mutmut>=3.8,<4"
rm -rf mutants
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/mutmut run --max-children "${MUTATION_CHILDREN:-2}" > mutants.log 2>&1 || { tail -n 30 mutants.log; exit 1; }
.venv/bin/mutmut export-cicd-stats >/dev/null
.venv/bin/python - <<'PY'
import json
stats = json.load(open("mutants/mutmut-cicd-stats.json"))
tested = stats["total"] - stats.get("no_tests", 0) - stats.get("skipped", 0)
print(json.dumps(stats))
print(f"mutants {stats['total']}: killed {stats['killed']}, survived {stats['survived']}, "
      f"no test reaches {stats.get('no_tests', 0)}, timeout {stats.get('timeout', 0)}; "
      f"killed {stats['killed'] / stats['total']:.0%} of all")
PY
