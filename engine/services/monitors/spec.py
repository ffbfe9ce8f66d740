"""A monitor as users write it (REST body, YAML entry, SDK call) → validated and normalised, with the seeds'
defaults: the window (span and granularity), the schedule (every N, or a 5-field cron), the analyses and their
parameters, the minimum sample size, and the alerting parameters kept for the alert rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from croniter import croniter

from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.services.monitors.analyses import KINDS, metric_params_errors
from engine.windows.spec import GRANULARITIES

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_SPAN = 366 * 86400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AnalysisSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)


def _default_analyses() -> tuple[AnalysisSpec, ...]:
    return (AnalysisSpec("drift"), AnalysisSpec("quality"), AnalysisSpec("degradation"))


class MonitorBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A monitor of one model. `window`: the span each run analyses ("1h", "24h", "7d"); `granularity`: the
    bucket of the series analyses (trend, anomalies); `every` ("1h") or `cron` ("0 * * * *", 5 fields, UTC):
    when windows end (default: every `window`); `min_samples`: below it a run stores "no data", not a verdict."""

    name: str
    analyses: tuple[AnalysisSpec, ...] = msgspec.field(default_factory=_default_analyses)
    window: str = "1h"  # seed 002: aggregation_window
    granularity: str = "1m"
    every: str | None = None
    cron: str | None = None
    version: str | None = None
    segment: dict[str, str] = msgspec.field(default_factory=dict)
    min_samples: int = 10  # seed 004: min_samples_for_trend
    enabled: bool = True
    alert_threshold: float = 0.1  # seed 002
    alert_cooldown_hours: float = 24.0  # seed 004


class MonitorConfig(msgspec.Struct, frozen=True):
    """A validated monitor, as stored (params normalised: every default filled in)."""

    name: str
    analyses: tuple[AnalysisSpec, ...]
    window_seconds: int
    granularity: str
    every_seconds: int | None
    cron: str | None
    version: str | None
    segment: dict[str, str]
    min_samples: int
    enabled: bool
    settings: dict[str, float]


def parse_duration(text: str, field: str, errs: list[RowError]) -> int:
    m = _DURATION.match(text)
    if not m:
        errs.append(RowError(None, field, f"{text!r} is not a duration like '30m', '1h', '7d'"))
        return 0
    return int(m.group(1)) * _UNIT[m.group(2)]


def format_duration(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT[unit] == 0:
            return f"{seconds // _UNIT[unit]}{unit}"
    return f"{seconds}s"


def validate(body: MonitorBody, model: ModelSpec, versions: set[str]) -> MonitorConfig:
    """Every problem at once, each naming its field: unknown analysis kinds list the known ones."""
    errs: list[RowError] = []
    if not _NAME.match(body.name):
        errs.append(RowError(None, "name", "1-128 characters: letters, digits, _ . : - (not first)"))
    span = parse_duration(body.window, "window", errs)
    if span and not 60 <= span <= MAX_SPAN:
        errs.append(RowError(None, "window", "between 1m and 366d"))
    if body.granularity not in GRANULARITIES:
        errs.append(RowError(None, "granularity", f"one of {', '.join(GRANULARITIES)}"))
    elif span and GRANULARITIES[body.granularity].width.total_seconds() > span:
        errs.append(RowError(None, "granularity", "coarser than the window"))
    every = None
    if body.every is not None and body.cron is not None:
        errs.append(RowError(None, "every/cron", "give one of them, not both"))
    elif body.cron is not None:
        if len(body.cron.split()) != 5 or not croniter.is_valid(body.cron):
            errs.append(RowError(None, "cron", "a 5-field cron expression (minute hour day month weekday, UTC)"))
    else:
        every = parse_duration(body.every, "every", errs) if body.every is not None else span
        if every and not 60 <= every <= MAX_SPAN:
            errs.append(RowError(None, "every", "between 1m and 366d"))
    if body.version is not None and body.version not in versions:
        errs.append(RowError(None, "version", f"model {model.name!r} has no version {body.version!r}"))
    for key in body.segment:
        if key not in model.dimensions:
            errs.append(RowError(None, f"segment.{key}", f"not a declared dimension of {model.name} "
                                 f"(declared: {', '.join(model.dimensions) or 'none'})"))
    if not 1 <= body.min_samples <= 10_000_000:
        errs.append(RowError(None, "min_samples", "1 to 10000000"))
    if not (0 < body.alert_threshold < 1e6 and 0 <= body.alert_cooldown_hours <= 24 * 366):
        errs.append(RowError(None, "alert_threshold/alert_cooldown_hours", "positive / 0 to 8784 hours"))
    if not body.analyses:
        errs.append(RowError(None, "analyses", f"at least one of {', '.join(KINDS)}"))
    analyses = []
    seen: set[str] = set()
    for i, a in enumerate(body.analyses):
        kind = KINDS.get(a.kind)
        if kind is None:
            errs.append(RowError(i, "analyses.kind", f"unknown analysis {a.kind!r}; known: {', '.join(KINDS)}"))
            continue
        if a.kind in seen:
            errs.append(RowError(i, "analyses.kind", f"{a.kind!r} twice"))
        seen.add(a.kind)
        try:
            params = msgspec.convert(a.params, kind.params)
        except msgspec.ValidationError as exc:
            errs.append(RowError(i, f"analyses.{a.kind}.params", str(exc)))
            continue
        for field, value in (("version", body.version), ("segment", body.segment)):
            if value and not kind.scoped:
                errs.append(RowError(i, field, f"analysis {a.kind!r} cannot be restricted to a {field} (it reads the "
                                     f"whole model); drop {field!r} or run {a.kind!r} in a monitor without it"))
        problem = metric_params_errors(model, a.kind, params)
        if problem:
            errs.append(RowError(i, f"analyses.{a.kind}.params.metric", problem))
        analyses.append(AnalysisSpec(a.kind, msgspec.to_builtins(params)))
    if errs:
        raise ValidationError(errs)
    return MonitorConfig(
        body.name, tuple(analyses), span, body.granularity, every, body.cron, body.version,
        dict(sorted(body.segment.items())), body.min_samples, body.enabled,
        {"alert_threshold": body.alert_threshold, "alert_cooldown_hours": body.alert_cooldown_hours},
    )


def latest_end(now: datetime, every_seconds: int | None, cron: str | None) -> datetime:
    """The newest window end at or before `now`: a multiple of `every` since the Unix epoch (UTC), or the
    cron's latest fire time."""
    if every_seconds is not None:
        k = (now - EPOCH) // timedelta(seconds=every_seconds)
        return EPOCH + k * timedelta(seconds=every_seconds)
    assert cron is not None
    it = croniter(cron, now + timedelta(microseconds=1))  # a fire time equal to `now` counts
    prev: datetime = it.get_prev(datetime)
    return prev.astimezone(UTC).replace(fold=0)


def due_ends(after: datetime | None, now: datetime, every_seconds: int | None, cron: str | None,
             catchup_max: int) -> list[datetime]:
    """Window ends in (after, now], oldest first, at most `catchup_max` (the newest ones: after a long
    downtime older windows are skipped). A monitor never scheduled (`after` None) gets its latest window."""
    ends: list[datetime] = []
    end = latest_end(now, every_seconds, cron)
    while (after is None or end > after) and len(ends) < (1 if after is None else catchup_max):
        ends.append(end)
        if every_seconds is not None:
            end = end - timedelta(seconds=every_seconds)
        else:
            assert cron is not None
            end = croniter(cron, end).get_prev(datetime).astimezone(UTC).replace(fold=0)
    return ends[::-1]
