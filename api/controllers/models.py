"""Models and versions: the domain types (`NewModel` in, `ModelSpec` / `VersionInfo` out) are the bodies."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from api.edge import strict_body
from api.openapi_docs import CreateModelOperation, CreateVersionOperation
from api.schemas import PromoteIn, VersionIn, error_responses
from engine.domain import DimensionDeclared, ModelSpec, NewDimension, NewModel, VersionInfo
from engine.services.models import ModelService


class ModelController(Controller):
    path = "/api/v1/models"
    tags = ["models"]

    @post("/", responses=error_responses(400, 401, 409, 415, 422, 503), operation_class=CreateModelOperation)
    async def create_model(self, request: Request[Any, Any, Any], data: NewModel,
                           model_service: ModelService) -> ModelSpec:
        return await model_service.create_model(await strict_body(request, NewModel))

    @get("/", responses=error_responses(401, 503))
    async def list_models(self, model_service: ModelService) -> list[ModelSpec]:
        return await model_service.list_models()

    @get("/{name:str}", responses=error_responses(401, 404, 503))
    async def get_model(self, name: str, model_service: ModelService) -> ModelSpec:
        return await model_service.get_model(name)

    @post("/{name:str}/dimensions", status_code=200, responses=error_responses(400, 401, 404, 409, 415, 422, 503))
    async def declare_dimension(self, request: Request[Any, Any, Any], name: str, data: NewDimension,
                                model_service: ModelService) -> DimensionDeclared:
        """Declare a segment key a window dimension later: the windows over the retained raw rows are
        backfilled in the background, and reads grouped or filtered by it are exact at once (from raw rows
        until the backfill is done). 409 if it is declared already or the model has the maximum."""
        data = await strict_body(request, NewDimension)
        return await model_service.declare_dimension(name, data.name)

    @post("/{name:str}/versions", responses=error_responses(400, 401, 404, 409, 415, 422, 503),
          operation_class=CreateVersionOperation)
    async def create_version(self, request: Request[Any, Any, Any], name: str, data: VersionIn,
                             model_service: ModelService) -> VersionInfo:
        data = await strict_body(request, VersionIn)
        return await model_service.create_version(name, data.version, data.stage, data.description)

    @get("/{name:str}/versions", responses=error_responses(401, 404, 503))
    async def list_versions(self, name: str, model_service: ModelService) -> list[VersionInfo]:
        return await model_service.list_versions(name)

    @get("/{name:str}/versions/{version:str}", responses=error_responses(401, 404, 503))
    async def get_version(self, name: str, version: str, model_service: ModelService) -> VersionInfo:
        return await model_service.get_version(name, version)

    @post("/{name:str}/versions/{version:str}/promote", status_code=200,
          responses=error_responses(400, 401, 404, 409, 415, 422, 503))
    async def promote(self, request: Request[Any, Any, Any], name: str, version: str, model_service: ModelService,
                      data: PromoteIn | None = None) -> VersionInfo:
        stage = (await strict_body(request, PromoteIn, PromoteIn())).stage
        return await model_service.promote(name, version, stage)

    @post("/{name:str}/versions/{version:str}/archive", status_code=200,
          responses=error_responses(401, 404, 409, 415, 503))
    async def archive(self, name: str, version: str, model_service: ModelService) -> VersionInfo:
        return await model_service.archive(name, version)
