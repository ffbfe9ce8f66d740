"""Liveness and readiness."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from api.schemas import HealthOut, LiveOut
from engine.errors import StoreUnavailableError
from engine.services.store import StoreService


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live")
    async def live(self) -> LiveOut:
        return LiveOut(status="ok")

    @get("/ready", responses={503: ResponseSpec(data_container=HealthOut, generate_examples=False,
                                                description="Database unreachable or schema not migrated")})
    async def ready(self, store_service: StoreService) -> Response[HealthOut]:
        try:
            edition = await store_service.edition()
            revision = await store_service.schema_revision()
        except StoreUnavailableError as exc:  # its message names the failure's kind, never the host or port
            return Response(HealthOut(status="unavailable", database=str(exc)), status_code=503,
                            headers={"Retry-After": "5"})
        if revision is None:
            return Response(HealthOut(status="unavailable", database="schema not migrated"), status_code=503)
        return Response(HealthOut(status="ok", database=f"migrated ({revision})",
                                  timescaledb_version=edition.version, timescaledb_license=edition.license))
