#!/usr/bin/env bash
# One command from a fresh checkout to a running driftline with data in it.
#
#   scripts/demo.sh            # idempotent: run it again at any time
#   scripts/stop.sh            # stops the API and the cluster
#
# Steps (each skipped when already done):
#   1. .venv with driftline installed (pip install -e '.[dev]'; redone only when pyproject.toml changes)
#   2. TimescaleDB for the installed PostgreSQL (scripts/timescaledb-install.sh: as root, or via sudo)
#   3. the project-local cluster in .driftline/ (scripts/cluster.sh start)
#   4. migrations (driftline migrate upgrade head)
#   5. the API in the background (driftline serve; pid .driftline/api.pid, log .driftline/api.log)
#   6. one worker in the background (driftline worker: job queue, scheduler, rollups; pid .driftline/worker.pid,
#      log .driftline/worker.log): the default monitor the demo's baseline brings runs without manual steps
#   7. the demo stream (examples/demo_stream.py): a scikit-learn model scored on drifting data via the SDK
#
# Environment:
#   DRIFTLINE_DATABASE_URL  use this database instead of the local cluster (steps 2–3 are skipped)
#   DRIFTLINE_API_PORT      API port (default 8000); DRIFTLINE_API_HOST (default 127.0.0.1)
#   DEMO_ROWS, DEMO_DAYS    size of the demo stream (default 20000 predictions over 4 days)
#   PYTHON                  interpreter for the venv (default python3; needs 3.11+)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
cd "$REPO"
STATE=${DRIFTLINE_HOME:-$REPO/.driftline}
VENV=$REPO/.venv
STAMP=$VENV/.driftline-install
API_HOST=${DRIFTLINE_API_HOST:-127.0.0.1}
API_PORT=${DRIFTLINE_API_PORT:-8000}
API_URL="http://$API_HOST:$API_PORT"
PID_FILE=$STATE/api.pid
API_LOG=$STATE/api.log
WORKER_PID=$STATE/worker.pid
WORKER_LOG=$STATE/worker.log

log() { printf '\n[demo] %s\n' "$*"; }
die() { printf '[demo] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Python environment ----------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if [[ ! -x "$VENV/bin/python" ]]; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (install Python 3.11+)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "driftline needs Python 3.11+"
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Installed = the stamp holds pyproject.toml's hash. Without a stamp (a venv made by hand), an editable
# install of this checkout whose requirements are all satisfied counts too, so no needless reinstall.
deps_satisfied() { "$VENV/bin/python" - <<'PY'
import os, sys, tomllib
from importlib import metadata
try:
    from packaging.requirements import Requirement
    import engine
except ImportError:
    sys.exit(1)
if not os.path.realpath(engine.__file__).startswith(os.path.realpath(os.getcwd()) + os.sep):
    sys.exit(1)
with open("pyproject.toml", "rb") as fh:
    project = tomllib.load(fh)["project"]
for req in map(Requirement, project["dependencies"] + project.get("optional-dependencies", {}).get("dev", [])):
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if not req.specifier.contains(version, prereleases=True):
        sys.exit(1)
PY
}
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ "$(cat "$STAMP" 2>/dev/null)" == "$want" && -x "$VENV/bin/driftline" ]]; then
    log "Python environment up to date ($VENV)"
elif [[ ! -f "$STAMP" && -x "$VENV/bin/driftline" ]] && deps_satisfied; then
    log "Python environment already satisfies pyproject.toml ($VENV)"
    echo "$want" >"$STAMP"
else
    log "installing driftline and its dependencies into $VENV (pip install -e '.[dev]')"
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    echo "$want" >"$STAMP"
fi
DRIFTLINE=$VENV/bin/driftline

# --- 2–3. database ------------------------------------------------------------------------------
LOCAL_CLUSTER=0
if [[ -n "${DRIFTLINE_DATABASE_URL:-}" ]]; then
    log "using DRIFTLINE_DATABASE_URL (local cluster not started)"
else
    log "TimescaleDB extension"
    "$SCRIPT_DIR/timescaledb-install.sh"
    log "local cluster"
    "$SCRIPT_DIR/cluster.sh" start
    LOCAL_CLUSTER=1
    DRIFTLINE_DATABASE_URL=$("$SCRIPT_DIR/cluster.sh" url)
fi
export DRIFTLINE_DATABASE_URL

# --- 4. schema ----------------------------------------------------------------------------------
log "migrations"
"$DRIFTLINE" migrate upgrade head

# --- 5. API -------------------------------------------------------------------------------------
mkdir -p "$STATE"
ready() { "$VENV/bin/python" - "$API_URL/health/ready" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}
ours() { # the pid file names a live driftline API process
    [[ -f "$PID_FILE" ]] || return 1
    local pid; pid=$(cat "$PID_FILE")
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "driftline serve"
}
if ours && ready; then
    log "API already running (pid $(cat "$PID_FILE")) at $API_URL"
else
    if ours; then
        log "API process $(cat "$PID_FILE") is not ready: restarting it"
        kill "$(cat "$PID_FILE")" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$PID_FILE"
    if ready; then
        die "something else already answers on $API_URL: set DRIFTLINE_API_PORT to a free port"
    fi
    log "starting the API at $API_URL (log $API_LOG)"
    nohup "$DRIFTLINE" serve --host "$API_HOST" --port "$API_PORT" >>"$API_LOG" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 60); do
        ready && break
        if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
            tail -n 30 "$API_LOG" >&2
            rm -f "$PID_FILE"
            die "the API exited during start-up (see $API_LOG)"
        fi
        sleep 1
    done
    ready || { tail -n 30 "$API_LOG" >&2; die "the API did not become ready within 60 s (see $API_LOG)"; }
    log "API ready (pid $(cat "$PID_FILE"))"
fi

# --- 6. worker ----------------------------------------------------------------------------------
worker_ours() { # the pid file names a live driftline worker process
    [[ -f "$WORKER_PID" ]] || return 1
    local pid; pid=$(cat "$WORKER_PID")
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "driftline worker"
}
if worker_ours; then
    log "worker already running (pid $(cat "$WORKER_PID"))"
else
    log "starting one worker (job queue, scheduler, rollups; log $WORKER_LOG)"
    nohup "$DRIFTLINE" worker --interval 30 >>"$WORKER_LOG" 2>&1 </dev/null &
    echo $! >"$WORKER_PID"
fi

# --- 7. demo stream -----------------------------------------------------------------------------
log "demo stream"
"$VENV/bin/python" examples/demo_stream.py --url "$API_URL" --rows "${DEMO_ROWS:-20000}" --days "${DEMO_DAYS:-4}"
# Bring the 1-minute / hourly / daily windows up to date (the worker does this continuously).
"$DRIFTLINE" rollups refresh >/dev/null 2>&1 || true
# The baseline gave the model its default monitor (hourly); the worker runs the latest window within a
# minute. Run the last full hour now as well, so results are there when this script ends.
"$DRIFTLINE" monitors run breast-cancer-screening default >/dev/null 2>&1 || true

CLI=".venv/bin/driftline"
if [[ "$DRIFTLINE_DATABASE_URL" != "postgresql://postgres@127.0.0.1:55432/driftline" ]]; then
    CLI="DRIFTLINE_DATABASE_URL=$DRIFTLINE_DATABASE_URL $CLI"
fi
if [[ "$LOCAL_CLUSTER" == 1 ]]; then PSQL="scripts/cluster.sh psql"; else PSQL="psql \"$DRIFTLINE_DATABASE_URL\""; fi
cat <<EOF

driftline is running.

  API          $API_URL          (pid $(cat "$PID_FILE"), log $API_LOG)
  Worker       pid $(cat "$WORKER_PID"), log $WORKER_LOG (monitors, scheduler, rollups)
  OpenAPI      $API_URL/schema   (Swagger UI: $API_URL/schema/swagger)
  Database     $DRIFTLINE_DATABASE_URL

Try:
  curl -s $API_URL/health/ready
  curl -s $API_URL/api/v1/models/breast-cancer-screening
  curl -s $API_URL/api/v1/models/breast-cancer-screening/versions
  $CLI models list
  # daily accuracy, ROC AUC (with its error bound), p95 latency and label coverage, per version
  curl -s "$API_URL/api/v1/models/breast-cancer-screening/windows/metrics?start=\$(date -u -d '5 days ago' +%FT%TZ)&end=\$(date -u -d '1 hour' +%FT%TZ)&granularity=1d&group_by=version&metrics=count,accuracy,roc_auc,latency_p95_ms,label_coverage"
  curl -s "$API_URL/api/v1/metrics/serving.cost_usd/windows?model=breast-cancer-screening&start=\$(date -u -d '5 days ago' +%FT%TZ)&end=\$(date -u -d '1 hour' +%FT%TZ)&granularity=1d"
  # drift of every feature over the last day against the baseline of the reference period; data quality
  curl -s "$API_URL/api/v1/models/breast-cancer-screening/drift?start=\$(date -u -d '1 day ago' +%FT%TZ)&end=\$(date -u +%FT%TZ)"
  .venv/bin/driftline analyze drift breast-cancer-screening --start \$(date -u -d '1 day ago' +%FT%TZ) --end \$(date -u +%FT%TZ)
  curl -s "$API_URL/api/v1/models/breast-cancer-screening/quality?start=\$(date -u -d '1 day ago' +%FT%TZ)&end=\$(date -u +%FT%TZ)"
  # monitors: the default one the baseline brought, its runs (a run a minute after each hour), their results
  $CLI monitors list
  $CLI monitors runs breast-cancer-screening default
  curl -s $API_URL/api/v1/models/breast-cancer-screening/monitors/default/runs
  # the same windows in SQL (see sql/README.md)
  $PSQL -c "SELECT bucket, version, segment, predictions, round(accuracy::numeric, 3) AS accuracy,
      round(latency_p95_ms::numeric, 1) AS p95_ms FROM model_windows_1d
      WHERE model = 'breast-cancer-screening' ORDER BY 1, 2, 3"
  $PSQL -c "SELECT bucket, name, count, round(mean::numeric, 4) AS mean FROM custom_metrics_1d
      WHERE name LIKE 'serving.%' ORDER BY 1, 2"

Stop everything with scripts/stop.sh
EOF
