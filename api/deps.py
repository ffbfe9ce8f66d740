"""Per-request dependencies: one unit of work (one pooled connection) per request, and the services built
on it. Handlers that need no database (liveness) ask for none, so they take no connection."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State

from engine.config import Settings
from engine.ingest.service import IngestService
from engine.jobs.queue import JobQueue
from engine.jobs.scheduler import MonitorQueue
from engine.services.analyses.drift import DriftService
from engine.services.analyses.results import ResultsService
from engine.services.analytics_jobs.jobs import AnalyticsJobService
from engine.services.baselines.service import BaselineService
from engine.services.metric_catalog import MetricCatalogService
from engine.services.models import ModelService
from engine.services.monitors.service import MonitorService
from engine.services.predictions import PredictionService
from engine.services.store import StoreService
from engine.services.windows import WindowsService
from engine.store.unit import UnitOfWork, unit_from_pool


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


async def provide_unit_of_work(state: State) -> AsyncGenerator[UnitOfWork, None]:
    """The request's connection, released when the request ends (an exception in the handler is raised
    here too, so the connection goes back to the pool either way). The pool is granted as spare: a long
    window read may read half of its snapshot on a second connection."""
    async with unit_from_pool(state.pool) as uow:
        yield uow


def provide_model_service(uow: UnitOfWork) -> ModelService:
    return ModelService(uow)


def provide_ingest_service(uow: UnitOfWork, settings: Settings, state: State) -> IngestService:
    return IngestService(uow, max_batch_rows=settings.max_batch_rows, offload=state.decode_pool)


def provide_prediction_service(uow: UnitOfWork, settings: Settings) -> PredictionService:
    return PredictionService(uow, max_ids=settings.max_batch_rows)


def provide_store_service(uow: UnitOfWork) -> StoreService:
    return StoreService(uow)


def provide_windows_service(uow: UnitOfWork) -> WindowsService:
    return WindowsService(uow)


def provide_baseline_service(uow: UnitOfWork) -> BaselineService:
    return BaselineService(uow)


def provide_drift_service(uow: UnitOfWork) -> DriftService:
    return DriftService(uow)


def provide_results_service(uow: UnitOfWork) -> ResultsService:
    return ResultsService(uow)


def provide_metric_catalog_service(uow: UnitOfWork) -> MetricCatalogService:
    return MetricCatalogService(uow)


def provide_analytics_job_service(uow: UnitOfWork, settings: Settings) -> AnalyticsJobService:
    return AnalyticsJobService(uow, settings)


def provide_monitor_service(uow: UnitOfWork) -> MonitorService:
    return MonitorService(uow)


async def provide_run_queue(state: State) -> MonitorQueue:
    """The job queue, opened on first use (its own small psycopg pool; closed with the app)."""
    async with state.job_queue_lock:
        if state.job_queue is None:
            settings: Settings = state.settings
            state.job_queue = await JobQueue(settings.database_url, pool_max=2).open()
    return MonitorQueue(state.job_queue)
