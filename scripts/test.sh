#!/usr/bin/env bash
# The whole test suite, from a fresh clone: setup (venv, TimescaleDB, local cluster), static checks, pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/ingest -x`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started_cluster=0
if [ -z "${DRIFTLINE_DATABASE_URL:-}" ] && ! bash scripts/cluster.sh status >/dev/null 2>&1; then
  started_cluster=1
fi
bash scripts/setup.sh
if [ -z "${DRIFTLINE_DATABASE_URL:-}" ]; then
  export DRIFTLINE_DATABASE_URL="$(bash scripts/cluster.sh url)"
fi
# Leave the machine as we found it: stop the local cluster if this run started it.
if [ "$started_cluster" -eq 1 ]; then
  trap 'bash scripts/cluster.sh stop >&2 || true' EXIT
fi
export DRIFTLINE_TEST_DATABASE_URL="${DRIFTLINE_TEST_DATABASE_URL:-$DRIFTLINE_DATABASE_URL}"

echo "[test] ruff" >&2
.venv/bin/ruff check engine api tests bench migrations
echo "[test] import-linter (layer contracts)" >&2
.venv/bin/lint-imports
echo "[test] mypy (engine, api)" >&2
.venv/bin/mypy
echo "[test] pytest" >&2
# A temporary directory of this run's own: pytest otherwise shares /tmp/pytest-of-$USER between runs and deletes
# the older runs' directories (clusters of the fault tests among them) when a newer run starts.
BASETEMP="$(mktemp -d /tmp/driftline-tests.XXXXXX)"
set +e
.venv/bin/python -m pytest --basetemp "$BASETEMP" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "[test] pytest collected no tests: that is a failure" >&2
  exit 1
fi
rm -rf "$BASETEMP"
exit "$rc"
