"""Monitors of a model: CRUD, "run now", run history; and every monitor (`GET /api/v1/monitors`). Thin:
parameters in, `MonitorService` call, its typed result out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromQuery

from api.edge import strict_body
from api.schemas import error_responses
from engine.errors import RowError, ValidationError
from engine.jobs.scheduler import MonitorQueue
from engine.services.monitors.service import ApplyOut, MonitorOut, MonitorService, RunNowOut, RunOut
from engine.services.monitors.spec import MonitorBody


class AllMonitorsController(Controller):
    path = "/api/v1/monitors"
    tags = ["monitors"]

    @get("/", responses=error_responses(401, 503))
    async def list_all(self, monitor_service: MonitorService) -> tuple[MonitorOut, ...]:
        """Every monitor of every model."""
        return await monitor_service.list()


class MonitorsController(Controller):
    path = "/api/v1/models/{name:str}/monitors"
    tags = ["monitors"]

    @get("/", responses=error_responses(401, 404, 503))
    async def list_monitors(self, name: str, monitor_service: MonitorService) -> tuple[MonitorOut, ...]:
        return await monitor_service.list(name)

    @post("/", responses=error_responses(400, 401, 404, 409, 415, 422, 503))
    async def create(self, request: Request[Any, Any, Any], name: str, data: MonitorBody,
                     monitor_service: MonitorService) -> MonitorOut:
        """Create a monitor (422 lists every invalid field; an unknown analysis lists the known ones)."""
        return await monitor_service.create(name, await strict_body(request, MonitorBody))

    @get("/{monitor:str}", responses=error_responses(401, 404, 503))
    async def get_monitor(self, name: str, monitor: str, monitor_service: MonitorService) -> MonitorOut:
        return await monitor_service.get(name, monitor)

    @put("/{monitor:str}", responses=error_responses(400, 401, 404, 415, 422, 503))
    async def apply(self, request: Request[Any, Any, Any], name: str, monitor: str, data: MonitorBody,
                    monitor_service: MonitorService, dry_run: FromQuery[bool] = False) -> ApplyOut:
        """Create the monitor or replace its settings (fields left out take their defaults); answers what
        changed. `dry_run`: only the diff."""
        body = await strict_body(request, MonitorBody)
        if body.name != monitor:
            raise ValidationError([RowError(None, "name", f"{body.name!r} differs from the path's {monitor!r}")])
        return await monitor_service.apply(name, body, dry_run)

    @delete("/{monitor:str}", status_code=200, responses=error_responses(401, 404, 503))
    async def delete_monitor(self, name: str, monitor: str, monitor_service: MonitorService) -> MonitorOut:
        """Delete a monitor and its run history (stored results stay); answers with what was deleted."""
        return await monitor_service.delete(name, monitor)

    @post("/{monitor:str}/run", status_code=202, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_now(self, name: str, monitor: str, monitor_service: MonitorService, run_queue: MonitorQueue,
                      end: FromQuery[datetime | None] = None) -> RunNowOut:
        """Queue the window ending at `end` (default: the latest one of the schedule) now. A window queued or
        running already is a no-op (`noop: true`), and so is a second job while one of this monitor is queued."""
        return await monitor_service.run_now(name, monitor, run_queue, end)

    @get("/{monitor:str}/runs", responses=error_responses(401, 404, 422, 503))
    async def runs(self, name: str, monitor: str, monitor_service: MonitorService,
                   status: FromQuery[str | None] = None, limit: FromQuery[int] = 100) -> tuple[RunOut, ...]:
        """The monitor's runs, newest window first (status: queued, running, succeeded, failed, no_data)."""
        return await monitor_service.runs(name, monitor, status, limit)

    @get("/{monitor:str}/runs/{run_id:int}", responses=error_responses(401, 404, 503))
    async def run(self, name: str, monitor: str, run_id: int, monitor_service: MonitorService) -> RunOut:
        return await monitor_service.run(name, monitor, run_id)
