#!/usr/bin/env bash
# A separate virtualenv for the Evidently baseline of bench/drift_bench.py: Evidently 0.7 does not import
# with pandas 3 (the project's venv), and it must never become a runtime dependency of driftline.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.driftline/bench-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet 'evidently==0.7.*' 'pandas<3' numpy
echo "$VENV/bin/python"
