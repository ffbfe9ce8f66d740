"""Per-request dependencies: services built on the application's pool."""

from __future__ import annotations

from litestar.datastructures import State

from engine.config import Settings
from engine.ingest.service import IngestService
from engine.services.models import ModelService
from engine.services.store import StoreService


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_model_service(state: State) -> ModelService:
    return ModelService(state.pool)


def provide_ingest_service(state: State) -> IngestService:
    settings: Settings = state.settings
    return IngestService(state.pool, max_batch_rows=settings.max_batch_rows)


def provide_store_service(state: State) -> StoreService:
    return StoreService(state.pool)
