"""The Litestar application: `create_app(settings)`; `api.app:app` builds one from the environment."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from api.auth import AccessControl, auth_middleware, scope_guard
from api.controllers.analyses import AnalysesController
from api.controllers.analytics import AnalyticsController
from api.controllers.analytics_jobs import AnalyticsJobsController
from api.controllers.anomalies import SeriesAnomaliesController
from api.controllers.baselines import BaselinesController
from api.controllers.degradation import DegradationController
from api.controllers.health import HealthController
from api.controllers.ingest import IngestController
from api.controllers.keys import KeysController
from api.controllers.models import ModelController
from api.controllers.monitors import AllMonitorsController, MonitorsController
from api.controllers.multivariate import MultivariateDriftController
from api.controllers.performance import PerformanceController
from api.controllers.quality import QualityController
from api.controllers.series_analyses import SeriesAnalysesController
from api.controllers.windows import WindowsController
from api.deps import (
    provide_analytics_job_service,
    provide_baseline_service,
    provide_drift_service,
    provide_ingest_service,
    provide_metric_catalog_service,
    provide_model_service,
    provide_monitor_service,
    provide_prediction_service,
    provide_results_service,
    provide_run_queue,
    provide_settings,
    provide_store_service,
    provide_unit_of_work,
    provide_windows_service,
)
from api.edge import EdgeMiddleware
from api.errors import EXCEPTION_HANDLERS
from api.heap import retain_heap
from engine.config import Settings
from engine.ingest.offload import DecodePool
from engine.store.db import create_pool

CONTROLLERS: list[type] = [HealthController, ModelController, IngestController, WindowsController, AnalyticsController,
                           BaselinesController, AnalysesController, QualityController,
                           DegradationController, SeriesAnalysesController,
                           PerformanceController, AnalyticsJobsController, MultivariateDriftController,
                           SeriesAnomaliesController, MonitorsController, AllMonitorsController,
                           KeysController]
# Either header carries a key (README, "Access control"); /health and /schema need none.
SECURITY_COMPONENTS = Components(security_schemes={
    "ApiKeyHeader": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header",
                                   description="An API key (`dl_…`) or the shared DRIFTLINE_API_KEY"),
    "BearerToken": SecurityScheme(type="http", scheme="bearer", description="The same key as a bearer token"),
})
SECURITY: list[dict[str, list[str]]] = [{"ApiKeyHeader": []}, {"BearerToken": []}]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.access = AccessControl(settings)
        app.state.access.secret()  # a secret that is set but unusable (too short) stops the start, with why
        app.state.pool = await create_pool(settings.database_url, settings.pool_min_size, settings.pool_max_size)
        app.state.job_queue, app.state.job_queue_lock = None, asyncio.Lock()
        # processes start on first use (tests build many apps), or at start-up in the served app
        app.state.decode_pool = DecodePool(settings.decode_workers, settings.offload_min_bytes)
        try:
            yield
        finally:
            if app.state.job_queue is not None:
                await app.state.job_queue.close()
            await app.state.decode_pool.close()
            await app.state.pool.close()

    # No origin is allowed unless configured: browsers then refuse cross-origin reads and every preflight
    # (which a JSON, NDJSON, Arrow or Parquet POST needs).
    cors = CORSConfig(allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "PUT", "DELETE"],
                      allow_headers=["content-type", "x-api-key", "authorization", "idempotency-key"],
                      expose_headers=["retry-after"], max_age=600) if settings.cors_origins else None
    return Litestar(
        route_handlers=CONTROLLERS,
        cors_config=cors,
        # Authentication first: an unauthenticated caller learns nothing from the edge checks' answers.
        middleware=[auth_middleware(), EdgeMiddleware()],
        guards=[scope_guard],
        lifespan=[lifespan],
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "uow": Provide(provide_unit_of_work),
            "model_service": Provide(provide_model_service, sync_to_thread=False),
            "ingest_service": Provide(provide_ingest_service, sync_to_thread=False),
            "prediction_service": Provide(provide_prediction_service, sync_to_thread=False),
            "store_service": Provide(provide_store_service, sync_to_thread=False),
            "windows_service": Provide(provide_windows_service, sync_to_thread=False),
            "baseline_service": Provide(provide_baseline_service, sync_to_thread=False),
            "drift_service": Provide(provide_drift_service, sync_to_thread=False),
            "results_service": Provide(provide_results_service, sync_to_thread=False),
            "metric_catalog_service": Provide(provide_metric_catalog_service, sync_to_thread=False),
            "analytics_job_service": Provide(provide_analytics_job_service, sync_to_thread=False),
            "monitor_service": Provide(provide_monitor_service, sync_to_thread=False),
            "run_queue": Provide(provide_run_queue),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="driftline", version="0.1.0", path="/schema",
                                     render_plugins=[SwaggerRenderPlugin()], components=SECURITY_COMPONENTS,
                                     security=SECURITY),
    )


def freeze_long_lived(_: Litestar) -> None:
    """Everything alive once the app has started (modules, the app, the pool) lives as long as the process:
    move it out of the cyclic collector's reach. A window read builds ~10⁵ short-lived objects; without
    this, the full collections they trigger walk the whole heap and were most of the p95 (30 d at 1h, all
    metrics: p95 62 → 38 ms per service call on the 20M bench database, p50 unchanged). A property of the
    served process, not of an app: a process that builds many apps (the tests) would freeze each one's
    garbage for good."""
    gc.collect()
    gc.freeze()


def warm_decode_pool(app: Litestar) -> None:
    """Start the decode worker processes now rather than on the first large body (~1 s each, off the loop)."""
    app.state.decode_pool.warm()


def app_from_env() -> Litestar:
    """Factory for `uvicorn --factory api.app:app_from_env` (what `driftline serve` runs): the app of the
    served process, which freezes the long-lived heap once started."""
    settings = Settings.from_env()
    retain_heap(settings.heap_retain_mb)
    app = create_app(settings)
    app.on_startup.append(freeze_long_lived)  # runs after the lifespan has opened the pool
    app.on_startup.append(warm_decode_pool)
    return app
