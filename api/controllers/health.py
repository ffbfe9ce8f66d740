"""Liveness and readiness."""

from __future__ import annotations

from litestar import Controller, Response, get

from api.schemas import HealthOut, error_responses
from engine.errors import StoreUnavailableError
from engine.services.store import StoreService


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", responses={503: error_responses(503)[503]})
    async def ready(self, store_service: StoreService) -> Response[HealthOut]:
        try:
            edition = await store_service.edition()
            revision = await store_service.schema_revision()
        except StoreUnavailableError as exc:
            return Response(HealthOut(status="unavailable", database=str(exc)), status_code=503)
        if revision is None:
            return Response(HealthOut(status="unavailable", database="schema not migrated"), status_code=503)
        return Response(HealthOut(status="ok", database=f"migrated ({revision})",
                                  timescaledb_version=edition.version, timescaledb_license=edition.license))
