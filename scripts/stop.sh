#!/usr/bin/env bash
# Stop what scripts/demo.sh started: the API (pid file .driftline/api.pid), the worker (.driftline/worker.pid)
# and the local cluster.
# Idempotent: anything already stopped is left alone. Data stays in .driftline/ (scripts/cluster.sh destroy
# deletes it).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
STATE=${DRIFTLINE_HOME:-$REPO/.driftline}
PID_FILE=$STATE/api.pid

log() { printf '[stop] %s\n' "$*"; }

if [[ -f "$PID_FILE" ]]; then
    pid=$(cat "$PID_FILE")
    # Only signal the process if it still is the driftline API (pids get reused).
    if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "driftline serve"; then
        log "stopping the API (pid $pid)"
        kill -TERM "$pid"
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "the API did not stop within 15 s: sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    else
        log "API not running (stale pid file)"
    fi
    rm -f "$PID_FILE"
else
    log "API not running"
fi

WORKER_PID=$STATE/worker.pid
if [[ -f "$WORKER_PID" ]]; then
    pid=$(cat "$WORKER_PID")
    if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "driftline worker"; then
        log "stopping the worker (pid $pid; its running jobs get 30 s to finish)"
        kill -TERM "$pid"
        for _ in $(seq 1 80); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && { log "the worker did not stop within 40 s: sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
    rm -f "$WORKER_PID"
fi

if [[ -n "${DRIFTLINE_DATABASE_URL:-}" ]]; then
    log "DRIFTLINE_DATABASE_URL is set: leaving that database alone"
else
    "$SCRIPT_DIR/cluster.sh" stop
fi
