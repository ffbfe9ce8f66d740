"""SDK calls for monitors (REST `/api/v1/models/{model}/monitors`): create / apply (idempotent PUT, with the
diff) / read / delete, "run now" and the run history. Answers are plain dicts and lists; `Client` and
`AsyncClient` get these methods from the two mixins below.

    with Client() as dl:
        dl.apply_monitor("churn", "hourly", window="1h", granularity="1m", every="1h",
                         analyses=[{"kind": "drift"}, {"kind": "quality"}])
        dl.run_monitor("churn", "hourly")
        runs = dl.monitor_runs("churn", "hourly", status="failed")
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from engine.sdk.analyses import parse_json
from engine.sdk.calls import API, Call, _json_call, _q


def _base(model: str) -> str:
    return f"{API}/models/{_q(model)}/monitors"


def list_monitors(model: str | None) -> Call:
    return Call("GET", f"{API}/monitors" if model is None else _base(model))


def get_monitor(model: str, name: str) -> Call:
    return Call("GET", f"{_base(model)}/{_q(name)}")


def create_monitor(model: str, name: str, spec: dict[str, Any]) -> Call:
    return _json_call("POST", _base(model), {"name": name, **spec}, repeatable=False)


def apply_monitor(model: str, name: str, spec: dict[str, Any], dry_run: bool) -> Call:
    call = _json_call("PUT", f"{_base(model)}/{_q(name)}", {"name": name, **spec}, repeatable=True)
    return Call(call.method, call.path, {"dry_run": str(dry_run).lower()}, call.content, call.headers, True)


def delete_monitor(model: str, name: str) -> Call:
    return Call("DELETE", f"{_base(model)}/{_q(name)}", repeatable=False)


def run_monitor(model: str, name: str, end: datetime | None) -> Call:
    # repeatable: a second "run now" of a queued window is a no-op
    return Call("POST", f"{_base(model)}/{_q(name)}/run", params={"end": end.isoformat()} if end else {})


def monitor_runs(model: str, name: str, status: str | None, limit: int) -> Call:
    params = {"limit": str(limit), **({"status": status} if status else {})}
    return Call("GET", f"{_base(model)}/{_q(name)}/runs", params=params)


def monitor_run(model: str, name: str, run_id: int) -> Call:
    return Call("GET", f"{_base(model)}/{_q(name)}/runs/{run_id}")


class MonitorsMixin:
    def _send(self, call: Call) -> tuple[httpx.Response, int]:
        raise NotImplementedError

    def list_monitors(self, model: str | None = None) -> list[dict[str, Any]]:
        """Every monitor, or one model's."""
        out: list[dict[str, Any]] = parse_json(*self._send(list_monitors(model)))
        return out

    def get_monitor(self, model: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*self._send(get_monitor(model, name)))
        return out

    def create_monitor(self, model: str, name: str, **spec: Any) -> dict[str, Any]:
        """Fields as the REST body: analyses, window, granularity, every | cron, version, segment, min_samples,
        enabled, alert_threshold, alert_cooldown_hours (defaults from the seeds)."""
        out: dict[str, Any] = parse_json(*self._send(create_monitor(model, name, spec)))
        return out

    def apply_monitor(self, model: str, name: str, *, dry_run: bool = False, **spec: Any) -> dict[str, Any]:
        """Create the monitor or make it exactly `spec`: {"change": created|updated|unchanged, "diff": [...]}."""
        out: dict[str, Any] = parse_json(*self._send(apply_monitor(model, name, spec, dry_run)))
        return out

    def delete_monitor(self, model: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*self._send(delete_monitor(model, name)))
        return out

    def run_monitor(self, model: str, name: str, end: datetime | None = None) -> dict[str, Any]:
        """Queue a run of the window ending at `end` (default: the latest); `noop` says it was queued already."""
        out: dict[str, Any] = parse_json(*self._send(run_monitor(model, name, end)))
        return out

    def monitor_runs(self, model: str, name: str, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = parse_json(*self._send(monitor_runs(model, name, status, limit)))
        return out

    def monitor_run(self, model: str, name: str, run_id: int) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*self._send(monitor_run(model, name, run_id)))
        return out


class AsyncMonitorsMixin:
    async def _send(self, call: Call) -> tuple[httpx.Response, int]:
        raise NotImplementedError

    async def list_monitors(self, model: str | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = parse_json(*await self._send(list_monitors(model)))
        return out

    async def get_monitor(self, model: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*await self._send(get_monitor(model, name)))
        return out

    async def create_monitor(self, model: str, name: str, **spec: Any) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*await self._send(create_monitor(model, name, spec)))
        return out

    async def apply_monitor(self, model: str, name: str, *, dry_run: bool = False, **spec: Any) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*await self._send(apply_monitor(model, name, spec, dry_run)))
        return out

    async def delete_monitor(self, model: str, name: str) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*await self._send(delete_monitor(model, name)))
        return out

    async def run_monitor(self, model: str, name: str, end: datetime | None = None) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*await self._send(run_monitor(model, name, end)))
        return out

    async def monitor_runs(self, model: str, name: str, *, status: str | None = None,
                           limit: int = 100) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = parse_json(*await self._send(monitor_runs(model, name, status, limit)))
        return out

    async def monitor_run(self, model: str, name: str, run_id: int) -> dict[str, Any]:
        out: dict[str, Any] = parse_json(*await self._send(monitor_run(model, name, run_id)))
        return out
