"""Typed settings, read from the environment once when the app, worker or CLI starts, then passed in."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/driftline"
_INTERVAL = re.compile(r"^\s*\d+\s*(second|minute|hour|day|week|month)s?\s*$", re.IGNORECASE)


# A JSON body: outer array (1) or `{"rows": [...]}` (2) → row (3) → features / segments / probabilities by
# class (4). Nothing deeper is meaningful.
MAX_JSON_DEPTH = 4


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """`max_rows` rows per batch; `max_bytes` decoded (decompressed) bytes; `max_depth` JSON nesting."""

    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = MAX_JSON_DEPTH



class SettingsError(ValueError):
    """A setting has a value driftline cannot use."""


def _interval(env: Mapping[str, str], key: str, default: str | None) -> str | None:
    value = env.get(key, default)
    if value is None or value == "" or value.lower() == "none":
        return None
    if not _INTERVAL.match(value):
        raise SettingsError(f"{key}={value!r} is not an interval like '1 day' or '12 hours'")
    return value.strip()


def _int(env: Mapping[str, str], key: str, default: int, minimum: int = 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{key}={value} must be >= {minimum}")
    return value


def _float(env: Mapping[str, str], key: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number") from None
    if not value >= minimum or value == float("inf"):
        raise SettingsError(f"{key}={value} must be finite and >= {minimum}")
    return value


@dataclass(frozen=True, slots=True)
class JobSettings:
    """The job queue and the scheduler (`driftline worker`)."""

    # Missed windows a monitor catches up after downtime, newest first (older ones are skipped).
    catchup_max: int = 24
    # Jobs one worker process runs at once.
    concurrency: int = 2
    # procrastinate's worker heartbeat, and how old a heartbeat may be before the worker is taken for dead
    # and its running jobs are retried by another worker.
    heartbeat_s: float = 10.0
    stalled_s: float = 30.0
    # When the scheduler ticks: procrastinate's cron (5 fields, or 6 with the SECONDS LAST, e.g.
    # "* * * * * */5" every 5 s). Every minute by default; windows stay aligned to each monitor's schedule.
    tick_cron: str = "* * * * *"
    # How long finished jobs of the queue (succeeded / failed / cancelled, with their events) and finished
    # monitor runs (the run history) are kept; the worker deletes older ones. None keeps them.
    job_retention: str | None = "7 days"
    monitor_run_retention: str | None = "90 days"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Physical layout choices for the hypertables (applied by the migrations)."""

    # One day per chunk: at ~1M predictions/day/model a chunk and its indexes stay well inside memory,
    # and a 30-day window touches 30 chunks.
    chunk_interval: str = "1 day"
    # Columnstore compression (full edition only). Most labels arrive within days: compressing later than
    # that keeps their UPDATEs on uncompressed rows. Later labels still work, at the cost of decompressing
    # the compressed batches that hold their predictions (README: "Compression, retention and the label
    # horizon").
    compress_after: str | None = "7 days"
    # Raw-row retention; None keeps everything. Full edition: a retention policy. Apache: the worker
    # calls drop_chunks.
    retention: str | None = None
    # How long after a prediction a label may arrive without the prediction's `time`: the engine keeps a
    # small uncompressed lookup (model, prediction id) -> time that long (`prediction_times`, pruned by the
    # worker). None keeps it as long as the predictions themselves.
    label_horizon: str | None = "90 days"


AuthMode = Literal["auto", "required", "open"]
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*(s|m|h)?\s*$")
_RATE_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` events per fixed window of `window_seconds`; `limit` 0 switches the limit off."""

    limit: int
    window_seconds: int

    @property
    def enabled(self) -> bool:
        return self.limit > 0


def _rate(env: Mapping[str, str], key: str, default: RateLimit) -> RateLimit:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    if raw.strip().lower() in ("0", "off", "none"):
        return RateLimit(0, default.window_seconds)
    match = _RATE.match(raw)
    if not match or int(match.group(2)) * _RATE_UNITS[match.group(3)] < 1:
        raise SettingsError(f"{key}={raw!r} is not a rate like '600/60' (events per seconds), '600/1m' or 'off'")
    return RateLimit(int(match.group(1)), int(match.group(2)) * _RATE_UNITS[match.group(3)])


DEFAULT_INGEST_RATE = RateLimit(1200, 60)
DEFAULT_FAILED_AUTH_RATE = RateLimit(30, 60)


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Who may call the API (README, "Access control").

    `mode`: `auto` (default) enforces keys as soon as DRIFTLINE_API_KEY is set or any key was ever created
    (a revoked one too: revoking the last key must not open the API), else the API is open (a fresh local
    install); `required` always enforces (no key at all: every call but /health and /schema is 401);
    `open` never enforces (local development only; a presented key is still checked).
    `secret_key`: the HMAC key that stored keys are hashed with (DRIFTLINE_SECRET_KEY); when unset, the file
    `secret_key_file` (DRIFTLINE_SECRET_KEY_FILE, default `$DRIFTLINE_HOME/secret_key`), which `driftline
    keys create` writes (mode 0600) the first time when it does not exist."""

    mode: AuthMode = "auto"
    secret_key: str | None = None
    secret_key_file: str | None = None
    # Ingest requests per key (the DRIFTLINE_API_KEY admin key counts as one key).
    ingest_rate: RateLimit = DEFAULT_INGEST_RATE
    # Failed authentications (a key presented and refused) per client address.
    failed_auth_rate: RateLimit = DEFAULT_FAILED_AUTH_RATE


def _auth_mode(env: Mapping[str, str]) -> AuthMode:
    value = (env.get("DRIFTLINE_AUTH") or "auto").strip().lower()
    if value not in ("auto", "required", "open"):
        raise SettingsError(f"DRIFTLINE_AUTH={value!r} must be auto, required or open")
    return value  # type: ignore[return-value]


def _secret_key_file(env: Mapping[str, str]) -> str | None:
    explicit = env.get("DRIFTLINE_SECRET_KEY_FILE")
    if explicit:
        return explicit
    home = env.get("DRIFTLINE_HOME")
    return os.path.join(home, "secret_key") if home else None


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    """The analytics-pipeline seed's batch jobs (`/analytics/jobs`, `driftline analytics-jobs`)."""

    # Job bodies name server-side files: only files under this directory are read (relative paths are taken
    # from it; `..` and symlinks leading out of it are refused). None (the default) refuses every path, so a
    # deployment opts in to exposing a directory to API callers.
    input_root: str | None = None
    # Where the JSON outputs are written (the seed's `output_path`).
    output_path: str = "data/analytics"
    # The seed's parameters: buckets a trend needs (fewer: "insufficient_data"), and Tukey's IQR factor
    # for outliers in the metric series.
    window_size: int = 7
    outlier_threshold: float = 1.5


def _positive_float(env: Mapping[str, str], key: str, default: float) -> float:
    value = _float(env, key, default)
    if not 0 < value < 1e6:
        raise SettingsError(f"{key}={value} must be positive")
    return value


def analytics_settings(env: Mapping[str, str]) -> AnalyticsSettings:
    window = _int(env, "DRIFTLINE_ANALYTICS_WINDOW_SIZE", 7, minimum=3)
    if window > 5000:
        raise SettingsError(f"DRIFTLINE_ANALYTICS_WINDOW_SIZE={window} must be <= 5000")
    return AnalyticsSettings(
        input_root=env.get("DRIFTLINE_ANALYTICS_INPUT_ROOT") or None,
        output_path=env.get("DRIFTLINE_ANALYTICS_OUTPUT_PATH") or "data/analytics",
        window_size=window,
        outlier_threshold=_positive_float(env, "DRIFTLINE_ANALYTICS_OUTLIER_THRESHOLD", 1.5),
    )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Bounds on what one ingest request may carry.
    max_batch_rows: int = 100_000
    # Bytes on the wire, and bytes once decoded (decompressed Arrow / Parquet, JSON text): both checked
    # while reading and decoding, before the rows are materialised.
    max_body_bytes: int = 64 * 1024 * 1024
    max_decoded_bytes: int = 64 * 1024 * 1024
    # Prediction bodies of at least `offload_min_bytes` are decoded and validated in `decode_workers`
    # spawned processes (per API process; 0: none, everything in process), keeping the event loop free.
    decode_workers: int = 2
    offload_min_bytes: int = 256 * 1024
    # Served process only: heap memory (MiB) glibc keeps for reuse instead of returning it to the kernel
    # after every numpy array of a read (0: glibc's defaults). See api/heap.py.
    heap_retain_mb: int = 256
    pool_min_size: int = 1
    pool_max_size: int = 10
    api_key: str | None = None
    # Origins allowed to call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # How long rejected_rows and ingest_batches (the idempotency keys) are kept; the worker deletes older rows.
    ingest_log_retention: str | None = "30 days"
    # Most raw rows per side a multivariate drift request may sample (domain classifier / PCA).
    multivariate_row_cap: int = 20_000
    store: StoreSettings = field(default_factory=StoreSettings)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    access: AccessSettings = field(default_factory=AccessSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DRIFTLINE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            api_host=env.get("DRIFTLINE_API_HOST") or "127.0.0.1",
            api_port=_int(env, "DRIFTLINE_API_PORT", 8000),
            max_batch_rows=_int(env, "DRIFTLINE_MAX_BATCH_ROWS", 100_000),
            max_body_bytes=_int(env, "DRIFTLINE_MAX_BODY_BYTES", 64 * 1024 * 1024),
            max_decoded_bytes=_int(env, "DRIFTLINE_MAX_DECODED_BYTES", 64 * 1024 * 1024),
            decode_workers=_int(env, "DRIFTLINE_DECODE_WORKERS", 2, minimum=0),
            offload_min_bytes=_int(env, "DRIFTLINE_OFFLOAD_MIN_BYTES", 256 * 1024, minimum=0),
            heap_retain_mb=_int(env, "DRIFTLINE_HEAP_RETAIN_MB", 256, minimum=0),
            pool_min_size=_int(env, "DRIFTLINE_POOL_MIN", 1),
            pool_max_size=_int(env, "DRIFTLINE_POOL_MAX", 10),
            api_key=env.get("DRIFTLINE_API_KEY") or None,
            cors_origins=tuple(o.strip() for o in env.get("DRIFTLINE_CORS_ORIGINS", "").split(",") if o.strip()),
            ingest_log_retention=_interval(env, "DRIFTLINE_INGEST_LOG_RETENTION", "30 days"),
            multivariate_row_cap=_int(env, "DRIFTLINE_MULTIVARIATE_ROW_CAP", 20_000, minimum=10),
            store=StoreSettings(
                chunk_interval=_interval(env, "DRIFTLINE_CHUNK_INTERVAL", "1 day") or "1 day",
                compress_after=_interval(env, "DRIFTLINE_COMPRESS_AFTER", "7 days"),
                retention=_interval(env, "DRIFTLINE_RETENTION", None),
                label_horizon=_interval(env, "DRIFTLINE_LABEL_HORIZON", "90 days"),
            ),
            analytics=analytics_settings(env),
            jobs=JobSettings(
                catchup_max=_int(env, "DRIFTLINE_MONITOR_CATCHUP_MAX", 24),
                concurrency=_int(env, "DRIFTLINE_WORKER_CONCURRENCY", 2),
                heartbeat_s=_float(env, "DRIFTLINE_WORKER_HEARTBEAT_S", 10.0, 0.1),
                stalled_s=_float(env, "DRIFTLINE_WORKER_STALLED_S", 30.0, 0.5),
                tick_cron=env.get("DRIFTLINE_SCHEDULER_CRON") or "* * * * *",
                job_retention=_interval(env, "DRIFTLINE_JOB_RETENTION", "7 days"),
                monitor_run_retention=_interval(env, "DRIFTLINE_MONITOR_RUN_RETENTION", "90 days"),
            ),
            access=AccessSettings(
                mode=_auth_mode(env),
                secret_key=env.get("DRIFTLINE_SECRET_KEY") or None,
                secret_key_file=_secret_key_file(env),
                ingest_rate=_rate(env, "DRIFTLINE_RATE_INGEST", DEFAULT_INGEST_RATE),
                failed_auth_rate=_rate(env, "DRIFTLINE_RATE_FAILED_AUTH", DEFAULT_FAILED_AUTH_RATE),
            ),
        )

    @property
    def decode_limits(self) -> DecodeLimits:
        return DecodeLimits(max_rows=self.max_batch_rows, max_bytes=self.max_decoded_bytes)

    @property
    def sqlalchemy_url(self) -> str:
        return to_sqlalchemy_url(self.database_url)


def to_sqlalchemy_url(url: str) -> str:
    """`postgresql://…` → `postgresql+asyncpg://…` for SQLAlchemy/Alembic."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise SettingsError(f"DRIFTLINE_DATABASE_URL must be a postgresql:// URL, got {url.split('://')[0]}://…")
