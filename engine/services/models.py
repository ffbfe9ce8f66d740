"""Model registry: register models with their feature schema, add versions, promote and archive."""

from __future__ import annotations

import math
import re

from engine.domain import (
    KEY_PATTERN,
    MODEL_NAME_PATTERN,
    STAGES,
    TASKS,
    VERSION_NAME_PATTERN,
    DimensionDeclared,
    FeatureSpec,
    ModelSpec,
    NewModel,
    Stage,
    VersionInfo,
)
from engine.errors import RowError, ValidationError
from engine.store import models_repo
from engine.store.unit import UnitOfWork
from engine.windows.spec import MAX_DIMENSIONS  # the window relations hold at most this many

MAX_FEATURES = 2000
_KEY = re.compile(KEY_PATTERN)
_MODEL = re.compile(MODEL_NAME_PATTERN)
_VERSION = re.compile(VERSION_NAME_PATTERN)


def _check_model(new: NewModel) -> tuple[ModelSpec, list[RowError]]:
    errs: list[RowError] = []
    if not isinstance(new.name, str) or not _MODEL.match(new.name):
        errs.append(RowError(None, "name", "1–128 characters: letters, digits, '_', '.', '-', not starting with a symbol"))
    if new.task not in TASKS:
        errs.append(RowError(None, "task", f"must be one of {', '.join(TASKS)}"))
    labels = tuple(new.class_labels) if new.class_labels is not None else None
    if new.task == "regression" and labels:
        errs.append(RowError(None, "class_labels", "a regression model has no class labels"))
        labels = None
    if new.task == "regression":
        labels = None
    elif new.task in ("binary", "multiclass"):
        if not labels:
            errs.append(RowError(None, "class_labels", f"required for a {new.task} model"))
        elif any(not isinstance(c, str) or not c for c in labels) or len(set(labels)) != len(labels):
            errs.append(RowError(None, "class_labels", "must be distinct non-empty strings"))
        elif new.task == "binary" and len(labels) != 2:
            errs.append(RowError(None, "class_labels", "a binary model has exactly 2 (negative first, positive second)"))
        elif new.task == "multiclass" and len(labels) < 2:
            errs.append(RowError(None, "class_labels", "a multiclass model has at least 2"))
    if not isinstance(new.threshold, float | int) or not 0 < new.threshold < 1:
        errs.append(RowError(None, "threshold", "must be strictly between 0 and 1"))
    for key in new.dimensions:
        if not isinstance(key, str) or not _KEY.match(key):
            errs.append(RowError(None, "dimensions", f"invalid segment key {key!r}"))
    if len(set(new.dimensions)) != len(new.dimensions):
        errs.append(RowError(None, "dimensions", "listed twice"))
    if len(new.dimensions) > MAX_DIMENSIONS:
        errs.append(RowError(None, "dimensions", f"at most {MAX_DIMENSIONS} segment keys can be window dimensions"))
    if len(new.features) > MAX_FEATURES:
        errs.append(RowError(None, "features", f"at most {MAX_FEATURES} features"))
    seen: set[str] = set()
    positions = {"numeric": 0, "categorical": 0}
    features: list[FeatureSpec] = []
    for i, f in enumerate(new.features):
        where = f"features[{i}]"
        if not isinstance(f.name, str) or not _KEY.match(f.name):
            errs.append(RowError(None, f"{where}.name", "letters, digits, '_', '.', '-', starting with a letter or '_'"))
            continue
        if f.name in seen:
            errs.append(RowError(None, f"{where}.name", f"feature {f.name!r} declared twice"))
            continue
        seen.add(f.name)
        if f.kind not in positions:
            errs.append(RowError(None, f"{where}.kind", "must be 'numeric' or 'categorical'"))
            continue
        if f.kind == "numeric":
            if f.categories is not None:
                errs.append(RowError(None, f"{where}.categories", "only categorical features have categories"))
            for attr in ("min_value", "max_value"):
                v = getattr(f, attr)
                if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
                    errs.append(RowError(None, f"{where}.{attr}", "must be a finite number"))
            if f.min_value is not None and f.max_value is not None and f.min_value > f.max_value:
                errs.append(RowError(None, f"{where}.min_value", "greater than max_value"))
        else:
            if f.min_value is not None or f.max_value is not None:
                errs.append(RowError(None, f"{where}.min_value", "only numeric features have a range"))
            if f.categories is not None and (
                not f.categories or any(not isinstance(c, str) for c in f.categories)
                or len(set(f.categories)) != len(f.categories)
            ):
                errs.append(RowError(None, f"{where}.categories", "must be distinct strings, at least one"))
        positions[f.kind] += 1
        features.append(FeatureSpec(name=f.name, kind=f.kind, position=positions[f.kind], min_value=f.min_value,
                                    max_value=f.max_value, nullable=f.nullable,
                                    categories=tuple(f.categories) if f.categories is not None else None))
    spec = ModelSpec(
        id=0, name=new.name, task=new.task, class_labels=labels, threshold=float(new.threshold),
        dimensions=tuple(new.dimensions), description=new.description, created_at=None,  # type: ignore[arg-type]
        features=tuple(features),
    )
    return spec, errs


class ModelService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.conn = uow.conn

    async def create_model(self, new: NewModel) -> ModelSpec:
        spec, errors = _check_model(new)
        if errors:
            raise ValidationError(errors)
        await models_repo.insert_model(self.conn, spec)
        return await models_repo.get_model(self.conn, spec.name)

    async def get_model(self, name: str) -> ModelSpec:
        return await models_repo.get_model(self.conn, name)

    async def list_models(self) -> list[ModelSpec]:
        return await models_repo.list_models(self.conn)

    async def create_version(
        self, model_name: str, version: str, stage: Stage = "development", description: str = ""
    ) -> VersionInfo:
        if not isinstance(version, str) or not _VERSION.match(version):
            raise ValidationError([RowError(None, "version", "1–64 characters: letters, digits, '_', '.', '+', '-'")])
        if stage not in STAGES or stage == "archived":
            raise ValidationError([RowError(None, "stage", "a new version starts in development, staging or production")])
        model = await models_repo.get_model(self.conn, model_name)
        return await models_repo.insert_version(self.conn, model.id, version, stage, description)

    async def list_versions(self, model_name: str) -> list[VersionInfo]:
        model = await models_repo.get_model(self.conn, model_name)
        return await models_repo.list_versions(self.conn, model.id)

    async def get_version(self, model_name: str, version: str) -> VersionInfo:
        model = await models_repo.get_model(self.conn, model_name)
        return await models_repo.get_version(self.conn, model, version)

    async def promote(self, model_name: str, version: str, stage: Stage = "production") -> VersionInfo:
        """Move a version to staging or production; promoting to production sends the current production
        version back to staging (one production version per model)."""
        if stage not in ("staging", "production"):
            raise ValidationError([RowError(None, "stage", "promote to 'staging' or 'production'")])
        model = await models_repo.get_model(self.conn, model_name)
        return await models_repo.set_stage(self.conn, model, version, stage)

    async def archive(self, model_name: str, version: str) -> VersionInfo:
        model = await models_repo.get_model(self.conn, model_name)
        return await models_repo.set_stage(self.conn, model, version, "archived")

    async def declare_dimension(self, model_name: str, key: str) -> DimensionDeclared:
        """Declare segment key `key` a window dimension of an existing model. Its windows over the retained
        raw rows are backfilled in the background (recorded like late writes, recomputed by the refresher);
        reads answer the pending ranges from raw rows meanwhile, so grouping by `key` is exact at once."""
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValidationError([RowError(None, "name", f"invalid segment key {key!r}: {KEY_PATTERN}")])
        _, span = await models_repo.append_dimension(self.conn, model_name, key, MAX_DIMENSIONS)
        model = await models_repo.get_model(self.conn, model_name)
        return DimensionDeclared(model, key, span[0] if span else None, span[1] if span else None)
