#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh Debian machine, idempotently:
#   1. a virtualenv in .venv with driftline and its dev dependencies (reinstalled when pyproject.toml changes);
#   2. TimescaleDB for the installed PostgreSQL (Debian's package, else built once from Debian's source package);
#   3. the project-local cluster (.driftline/, port ${DRIFTLINE_PG_PORT:-55432}) started.
# Skip 2 and 3 by setting DRIFTLINE_DATABASE_URL to a database of your own (with timescaledb available).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
EXTRAS="${DRIFTLINE_EXTRAS:-dev}"

log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then
  log "creating virtualenv .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.driftline-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing Python dependencies (.[${EXTRAS}])"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[${EXTRAS}]"
  echo "$want" > "$stamp"
else
  log "Python dependencies up to date"
fi

if [ -z "${DRIFTLINE_DATABASE_URL:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    bash scripts/timescaledb-install.sh
  else
    sudo bash scripts/timescaledb-install.sh
  fi
  bash scripts/cluster.sh start >&2
fi
