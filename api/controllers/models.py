"""Models and versions."""

from __future__ import annotations

from litestar import Controller, get, post

from api.schemas import ModelIn, ModelOut, PromoteIn, VersionIn, VersionOut, error_responses
from engine.services.models import ModelService, NewModel


class ModelController(Controller):
    path = "/api/v1/models"
    tags = ["models"]

    @post("/", responses=error_responses(400, 401, 409, 422, 503))
    async def create_model(self, data: ModelIn, model_service: ModelService) -> ModelOut:
        new = NewModel(name=data.name, task=data.task, features=[f.to_spec() for f in data.features],
                       class_labels=data.class_labels, threshold=data.threshold, dimensions=data.dimensions,
                       description=data.description)
        return ModelOut.of(await model_service.create_model(new))

    @get("/", responses=error_responses(401, 503))
    async def list_models(self, model_service: ModelService) -> list[ModelOut]:
        return [ModelOut.of(m) for m in await model_service.list_models()]

    @get("/{name:str}", responses=error_responses(401, 404, 503))
    async def get_model(self, name: str, model_service: ModelService) -> ModelOut:
        return ModelOut.of(await model_service.get_model(name))

    @post("/{name:str}/versions", responses=error_responses(400, 401, 404, 409, 422, 503))
    async def create_version(self, name: str, data: VersionIn, model_service: ModelService) -> VersionOut:
        return VersionOut.of(await model_service.create_version(name, data.version, data.stage, data.description))

    @get("/{name:str}/versions", responses=error_responses(401, 404, 503))
    async def list_versions(self, name: str, model_service: ModelService) -> list[VersionOut]:
        return [VersionOut.of(v) for v in await model_service.list_versions(name)]

    @get("/{name:str}/versions/{version:str}", responses=error_responses(401, 404, 503))
    async def get_version(self, name: str, version: str, model_service: ModelService) -> VersionOut:
        return VersionOut.of(await model_service.get_version(name, version))

    @post("/{name:str}/versions/{version:str}/promote", status_code=200,
          responses=error_responses(400, 401, 404, 409, 422, 503))
    async def promote(self, name: str, version: str, model_service: ModelService,
                      data: PromoteIn | None = None) -> VersionOut:
        stage = data.stage if data is not None else "production"
        return VersionOut.of(await model_service.promote(name, version, stage))

    @post("/{name:str}/versions/{version:str}/archive", status_code=200,
          responses=error_responses(401, 404, 409, 503))
    async def archive(self, name: str, version: str, model_service: ModelService) -> VersionOut:
        return VersionOut.of(await model_service.archive(name, version))
