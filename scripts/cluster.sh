#!/usr/bin/env bash
# A project-local PostgreSQL + TimescaleDB cluster for development, tests and the demo.
#
#   scripts/cluster.sh start     # initdb on first use, start, create the database + extension, print the URL
#   scripts/cluster.sh stop      # stop (no-op when not running)
#   scripts/cluster.sh status    # exit 0 when running, 3 when not
#   scripts/cluster.sh url       # postgresql://postgres@127.0.0.1:$PORT/$DB
#   scripts/cluster.sh psql ...  # psql on that database, extra arguments passed through
#   scripts/cluster.sh destroy   # stop and delete the data directory
#
# Environment:
#   DRIFTLINE_HOME        state directory (default <repo>/.driftline): data in pg/, sockets in run/, log pg.log
#   DRIFTLINE_PG_PORT     TCP port on 127.0.0.1 (default 55432)
#   DRIFTLINE_PG_DB       database name (default driftline)
#   DRIFTLINE_TS_LICENSE  if set, timescaledb.license (apache | timescale; "timescale" needs a full build)
#   DRIFTLINE_PG_RELAXED_DURABILITY  set to 1 for synchronous_commit=off: faster commits, but a crash of the
#                         server may lose the last few hundred ms of acknowledged commits. Opt-in, for
#                         benchmarks and throwaway test clusters only; the default is durable.
#   PG_MAJOR              PostgreSQL major version (default 15)
#   PG_BIN                PostgreSQL binaries (default /usr/lib/postgresql/$PG_MAJOR/bin)
#
# DEV/TEST CLUSTER ONLY: authentication is "trust" for local sockets and 127.0.0.1 (anyone on this
# machine can connect as the superuser postgres), it listens on 127.0.0.1 only. Commits are durable
# (synchronous_commit=on) unless DRIFTLINE_PG_RELAXED_DURABILITY=1. Install the extension first with
# scripts/timescaledb-install.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
STATE=${DRIFTLINE_HOME:-$REPO/.driftline}
DATA=$STATE/pg
RUN=$STATE/run
LOG=$STATE/pg.log
PORT=${DRIFTLINE_PG_PORT:-55432}
DB=${DRIFTLINE_PG_DB:-driftline}
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_OS_USER=postgres

log() { printf '[cluster] %s\n' "$*"; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

url() { printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$PORT" "$DB"; }

# PostgreSQL refuses to run as root (initdb, pg_ctl and postgres all check). As root we run the server
# tools as the "postgres" OS user, which Debian's packages create; as anyone else, as that user.
if [[ $EUID -eq 0 ]]; then
    AS_PG=(runuser -u "$PG_OS_USER" --)
else
    AS_PG=()
fi
# Run a server tool from / so a cwd the postgres user cannot enter (e.g. /root) causes no warnings.
pg() { (cd / && "${AS_PG[@]}" "$@"); }

# Client connections go over TCP to 127.0.0.1 (trust): works for root and every user alike. Explicit
# -h/-p/-U/-d override any PGHOST/PGPORT/PGUSER/PGDATABASE in the caller's environment.
sql() { # sql DATABASE STATEMENT -> rows, unaligned, tuples only
    PGOPTIONS='-c client_min_messages=warning' \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "$1" -tA -c "$2"
}

check_bin() {
    local b
    for b in initdb pg_ctl psql pg_config; do
        [[ -x "$PG_BIN/$b" ]] || die "$PG_BIN/$b not found (install postgresql-$PG_MAJOR or set PG_BIN)"
    done
}

running() { # 0 running, 3 not running (including: no data directory)
    [[ -f "$DATA/PG_VERSION" ]] || return 3
    local rc=0
    pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || rc=$?
    [[ $rc -eq 0 ]] && return 0
    return 3
}

ensure_os_user() {
    [[ $EUID -eq 0 ]] || return 0
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
        log "creating system user $PG_OS_USER"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
}

prepare_dirs() {
    mkdir -p "$STATE" "$DATA" "$RUN"
    touch "$LOG"
    if [[ $EUID -eq 0 ]]; then
        # The server runs as "postgres" but the state directory usually sits inside a checkout owned by
        # root (or another user). The postgres user must be able to *traverse* every directory above
        # $DATA, $RUN and $LOG to reach them, so add the search bit (o+x, not read) where it is missing.
        # This exposes no listing; it only lets postgres open paths it already knows.
        local d=$STATE
        local -a chain=()
        while [[ "$d" != "/" && -n "$d" ]]; do chain=("$d" "${chain[@]}"); d=$(dirname "$d"); done
        for d in "${chain[@]}"; do
            if ! runuser -u "$PG_OS_USER" -- test -x "$d"; then
                log "chmod o+x $d (so the postgres user can reach $STATE)"
                chmod o+x "$d"
            fi
        done
        chown "$PG_OS_USER:" "$DATA" "$RUN" "$LOG"
    fi
    chmod 700 "$DATA"
    chmod 755 "$RUN"
}

check_extension_installed() {
    local share
    share=$("$PG_BIN/pg_config" --sharedir)
    [[ -f "$share/extension/timescaledb.control" ]] \
        || die "TimescaleDB is not installed for $PG_BIN ($share/extension/timescaledb.control missing):"\
" run scripts/timescaledb-install.sh"
}

init_cluster() {
    local locale_opt=(--no-locale)
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale_opt=(--locale=C.UTF-8); fi
    log "initdb in $DATA (dev cluster: trust auth for local sockets and 127.0.0.1, superuser postgres)"
    pg "$PG_BIN/initdb" -D "$DATA" --username=postgres --encoding=UTF8 "${locale_opt[@]}" \
        --auth-local=trust --auth-host=trust >"$STATE/initdb.log" 2>&1 \
        || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
    # Our settings live in driftline.conf (rewritten on every start from the environment).
    printf "\n# driftline: settings managed by scripts/cluster.sh\ninclude_if_exists = 'driftline.conf'\n" \
        | pg tee -a "$DATA/postgresql.conf" >/dev/null
}

write_conf() {
    local conf
    conf=$(cat <<EOF
# Written by scripts/cluster.sh on every start: edit the script (or its environment), not this file.
# DEVELOPMENT / TEST CLUSTER — not a production configuration.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
shared_preload_libraries = 'timescaledb'
# No network here; never phone home.
timescaledb.telemetry_level = off
# Tests copy template databases (CREATE DATABASE x TEMPLATE y), which fails while TimescaleDB's
# background workers are connected to the template. The Apache edition runs no jobs anyway (policies
# and user jobs are Timescale-License features; its workers only do telemetry). On the full edition
# this also disables refresh policies: tests refresh continuous aggregates explicitly.
timescaledb.max_background_workers = 0
max_connections = 200
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
EOF
)
    # What driftline acknowledges (201) must survive a crash: durable commits unless explicitly relaxed.
    if [[ "${DRIFTLINE_PG_RELAXED_DURABILITY:-0}" == "1" ]]; then
        conf+=$'\n'"# DRIFTLINE_PG_RELAXED_DURABILITY=1: a crash may lose the last few hundred ms of commits."
        conf+=$'\n'"synchronous_commit = off"
    else
        conf+=$'\n'"synchronous_commit = on"
    fi
    if [[ -n "${DRIFTLINE_TS_LICENSE:-}" ]]; then
        conf+=$'\n'"timescaledb.license = '$DRIFTLINE_TS_LICENSE'"
    fi
    printf '%s\n' "$conf" | pg tee "$DATA/driftline.conf" >/dev/null
}

cmd_start() {
    check_bin
    if running; then
        log "already running (data $DATA, port $PORT)"
        url
        return 0
    fi
    check_extension_installed
    ensure_os_user
    prepare_dirs
    [[ -f "$DATA/PG_VERSION" ]] || init_cluster
    write_conf
    log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$PORT, log $LOG"
    local t0=$SECONDS
    # The port lies in Linux's ephemeral range (32768-60999): on a busy machine a client connection can hold it
    # for a moment as its local port. Such a bind failure is retried a few times; a listening server is not.
    local attempt
    for attempt in 1 2 3 4 5; do
        if pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null; then
            break
        fi
        if [[ $attempt -lt 5 ]] && tail -n 5 "$LOG" | grep -q "Address already in use" \
                && ! ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; then
            log "port $PORT is busy for a moment (not a listening server); retrying in 3 s"
            sleep 3
            continue
        fi
        tail -n 30 "$LOG" >&2
        die "PostgreSQL did not start (is port $PORT taken? see $LOG)"
    done
    if [[ -z "$(sql postgres "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
        log "creating database $DB"
        sql postgres "CREATE DATABASE \"$DB\"" >/dev/null
    fi
    sql "$DB" "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null
    local ver lic
    ver=$(sql "$DB" "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    lic=$(sql "$DB" "SELECT current_setting('timescaledb.license', true)")
    log "running: TimescaleDB $ver, license $lic (ready in $((SECONDS - t0)) s)"
    url
}

cmd_stop() {
    check_bin
    if ! running; then
        log "not running"
        return 0
    fi
    pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped"
}

cmd_status() {
    check_bin
    if running; then
        log "running (data $DATA, port $PORT): $(url)"
        return 0
    fi
    log "not running (data $DATA)"
    return 3
}

cmd_destroy() {
    cmd_stop
    if [[ -e "$DATA" ]]; then
        rm -rf "$DATA"
        log "removed $DATA"
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) url ;;
    psql) shift; check_bin; exec "$PG_BIN/psql" "$(url)" "$@" ;;
    destroy) cmd_destroy ;;
    *) echo "usage: $0 {start|stop|status|url|psql [args...]|destroy}" >&2; exit 2 ;;
esac
