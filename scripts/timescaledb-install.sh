#!/usr/bin/env bash
# Install PostgreSQL's TimescaleDB extension (Apache edition) on a Debian machine.
#
#   scripts/timescaledb-install.sh            # as root, or as a user with sudo
#   PG_MAJOR=16 scripts/timescaledb-install.sh
#
# Order of preference:
#   1. already installed for this PostgreSQL  -> report it and stop;
#   2. Debian's binary package postgresql-$PG_MAJOR-timescaledb, when the release has it;
#   3. built from Debian's source package of a newer release (trixie by default). Only a deb-src
#      entry for that release is added, never its binary packages, so nothing else gets upgraded.
#      Debian's source is "+dfsg": the Timescale-License part (tsl/) is removed, so this always
#      builds the Apache edition (APACHE_ONLY).
#
# Build dependencies come from the machine's own release (bookworm). Note that installing
# postgresql-server-dev-$PG_MAJOR may also pull that release's newest postgresql-$PG_MAJOR point
# release (same major version; the headers must match the server they build against).
#
# Idempotent: running it again is a no-op once the extension is installed; a cached build in
# ${XDG_CACHE_HOME:-$HOME/.cache}/driftline/timescaledb is reused.
#
# Environment:
#   PG_MAJOR            PostgreSQL major version (default: newest /usr/lib/postgresql/*/bin/pg_config, else 15)
#   TIMESCALEDB_SUITE   Debian release whose source package is used (default: trixie)
#   DEBIAN_MIRROR       mirror for the deb-src entry (default: http://deb.debian.org/debian)
set -euo pipefail

log() { printf '[timescaledb-install] %s\n' "$*"; }
die() { printf '[timescaledb-install] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ $EUID -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    die "run as root or install sudo"
fi
as_root() { "${SUDO[@]}" "$@"; }

# --- which PostgreSQL ------------------------------------------------------------------------
if [[ -z "${PG_MAJOR:-}" ]]; then
    PG_MAJOR=15
    newest=""
    for cfg in /usr/lib/postgresql/*/bin/pg_config; do
        [[ -x "$cfg" ]] || continue
        v=$(basename "$(dirname "$(dirname "$cfg")")")
        if [[ "$v" =~ ^[0-9]+$ ]] && { [[ -z "$newest" ]] || (( v > newest )); }; then
            newest=$v
        fi
    done
    [[ -n "$newest" ]] && PG_MAJOR=$newest
fi
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
[[ -x "$PG_CONFIG" ]] || die "$PG_CONFIG not found: install postgresql-$PG_MAJOR first"
log "PostgreSQL $PG_MAJOR ($("$PG_CONFIG" --version)), pg_config $PG_CONFIG"

control_file() { echo "$("$PG_CONFIG" --sharedir)/extension/timescaledb.control"; }

report_installed() {
    local ctl ver
    ctl=$(control_file)
    ver=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$ctl")
    log "TimescaleDB ${ver:-?} is installed for PostgreSQL $PG_MAJOR:"
    log "  control file: $ctl"
    # shellcheck disable=SC2012
    ls -1 "$("$PG_CONFIG" --pkglibdir)"/timescaledb*.so 2>/dev/null | sed 's/^/[timescaledb-install]   library: /' || true
    log "The server needs shared_preload_libraries='timescaledb' (scripts/cluster.sh sets it)."
}

# --- 1. already there ------------------------------------------------------------------------
if [[ -f "$(control_file)" ]]; then
    report_installed
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        as_root apt-get update -q >/dev/null
        APT_UPDATED=1
    fi
}

# --- 2. Debian's binary package --------------------------------------------------------------
PKG="postgresql-$PG_MAJOR-timescaledb"
apt_update
candidate=$(apt-cache policy "$PKG" 2>/dev/null | awk '/Candidate:/ {print $2}')
if [[ -n "$candidate" && "$candidate" != "(none)" ]]; then
    log "installing Debian package $PKG $candidate"
    as_root apt-get install -y -q "$PKG"
    report_installed
    exit 0
fi
log "no binary package $PKG in this release: building from Debian's source package"

# --- 3. build from the newer release's source package ----------------------------------------
SUITE=${TIMESCALEDB_SUITE:-trixie}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SRC_LIST="/etc/apt/sources.list.d/driftline-$SUITE-src.sources"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/driftline/timescaledb"
mkdir -p "$CACHE"
started=$(date +%s)

build_deps=(build-essential cmake dpkg-dev "postgresql-server-dev-$PG_MAJOR" libssl-dev libkrb5-dev)
missing=()
for p in "${build_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
    log "installing build dependencies from $(. /etc/os-release && echo "$VERSION_CODENAME"): ${missing[*]}"
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "build dependencies already installed"
fi

# Newest unpacked source tree in the cache, if any (directory names are timescaledb-<upstream version>).
find_src() {
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-[0-9]*' -print 2>/dev/null | sort -V | tail -n 1
}

src=$(find_src)
if [[ -n "$src" ]]; then
    log "reusing cached source $src"
else
    if [[ ! -f "$SRC_LIST" ]]; then
        log "adding deb-src for $SUITE (source packages only, no binaries) in $SRC_LIST"
        as_root tee "$SRC_LIST" >/dev/null <<EOF
# Added by driftline scripts/timescaledb-install.sh: source packages only (no "deb"), so no
# $SUITE binary package can be installed or upgrade anything. Used to build TimescaleDB.
Types: deb-src
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: $KEYRING
EOF
        APT_UPDATED=0
    fi
    apt_update
    log "downloading source package timescaledb/$SUITE into $CACHE"
    # apt warns that the download runs unsandboxed when root's cache dir is not readable by _apt: harmless.
    (cd "$CACHE" && apt-get source -q "timescaledb/$SUITE" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    src=$(find_src)
    [[ -n "$src" ]] || die "apt-get source timescaledb/$SUITE produced no source tree in $CACHE"
fi
version=$(basename "$src"); version=${version#timescaledb-}
log "TimescaleDB source version $version"

# Option names as in the source's CMakeLists.txt: APACHE_ONLY (no tsl/), REGRESS_CHECKS / TAP_CHECKS
# (test harness, needs pg_regress/perl modules we don't want), WARNINGS_AS_ERRORS (newer gcc warnings
# must not break the build), PG_CONFIG (which PostgreSQL to build for).
build="$src/build-pg$PG_MAJOR"
if [[ -f "$build/CMakeCache.txt" ]] && grep -q "^PG_CONFIG:.*=$PG_CONFIG\$" "$build/CMakeCache.txt"; then
    log "reusing configured build directory $build"
else
    log "configuring (cmake) in $build"
    rm -rf "$build"
    mkdir -p "$build"
    (cd "$build" && cmake .. \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DAPACHE_ONLY=1 \
        -DREGRESS_CHECKS=OFF \
        -DTAP_CHECKS=OFF \
        -DWARNINGS_AS_ERRORS=OFF \
        -DLINTER=OFF \
        -DSEND_TELEMETRY_DEFAULT=NO \
        -DPG_CONFIG="$PG_CONFIG" >"$build/cmake.log" 2>&1) \
        || { tail -n 40 "$build/cmake.log" >&2; die "cmake failed (full log: $build/cmake.log)"; }
fi

log "building with make -j$(nproc) (log: $build/make.log)"
make -C "$build" -j"$(nproc)" >"$build/make.log" 2>&1 \
    || { tail -n 40 "$build/make.log" >&2; die "build failed (full log: $build/make.log)"; }

log "installing into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
as_root make -C "$build" install >"$build/install.log" 2>&1 \
    || { tail -n 40 "$build/install.log" >&2; die "make install failed (full log: $build/install.log)"; }

[[ -f "$(control_file)" ]] || die "make install finished but $(control_file) is missing"
log "done in $(( $(date +%s) - started )) s"
report_installed
