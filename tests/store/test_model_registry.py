"""Model registry service against the database: stored spec, stages, and concurrent promotions."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine.domain import NewFeature, NewModel
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.services.models import ModelService
from engine.store.unit import UnitOfWork, unit_from_pool
from tests.ingest.support import binary_model


async def test_model_spec_round_trip(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    svc = ModelService(uow)
    new = binary_model("m1")
    spec = await svc.create_model(new)
    again = await svc.get_model("m1")
    assert spec == again
    assert (spec.task, spec.class_labels, spec.threshold, spec.dimensions) == ("binary", ("stay", "churn"), 0.3, ("region",))
    declared = {f.name: f for f in new.features}
    assert {f.name for f in spec.features} == set(declared)
    for f in spec.features:
        d = declared[f.name]
        assert (f.kind, f.min_value, f.max_value, f.categories, f.nullable) == (
            d.kind, d.min_value, d.max_value, d.categories, d.nullable)
    # Positions are dense per kind, in declaration order.
    for kind in ("numeric", "categorical"):
        names = [f.name for f in new.features if f.kind == kind]
        assert [f.name for f in sorted((f for f in spec.features if f.kind == kind), key=lambda f: f.position)] == names
        assert sorted(f.position for f in spec.features if f.kind == kind) == list(range(1, len(names) + 1))
    assert [m.name for m in await svc.list_models()] == ["m1"]


async def test_wide_model(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    """Several hundred features are a normal case."""
    svc = ModelService(uow)
    feats = [NewFeature(f"n{i}", "numeric") for i in range(400)] + [NewFeature(f"c{i}", "categorical") for i in range(100)]
    spec = await svc.create_model(NewModel(name="wide", task="regression", features=feats))
    assert len(spec.numeric_features) == 400 and len(spec.categorical_features) == 100
    assert [f.name for f in spec.numeric_features] == [f"n{i}" for i in range(400)]


async def test_registry_errors(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    svc = ModelService(uow)
    await svc.create_model(binary_model("m1"))
    with pytest.raises(ConflictError):
        await svc.create_model(binary_model("m1"))
    with pytest.raises(NotFoundError):
        await svc.get_model("m2")
    with pytest.raises(ValidationError) as info:
        await svc.create_model(NewModel(name="m3", task="multiclass", class_labels=["a", "a"], features=[]))
    assert info.value.errors[0].field == "class_labels"
    with pytest.raises(ValidationError):
        await svc.create_version("m1", "v1", stage="archived")
    with pytest.raises(ValidationError):
        await svc.promote("m1", "v1", stage="development")  # type: ignore[arg-type]
    await svc.create_version("m1", "v1")
    with pytest.raises(ConflictError):
        await svc.create_version("m1", "v1")
    with pytest.raises(NotFoundError):
        await svc.archive("m1", "v2")
    assert await pool.fetchval("SELECT count(*) FROM models") == 1


async def _promote_on_own_unit(pool: asyncpg.Pool, version: str) -> object:
    async with unit_from_pool(pool) as uow:  # one unit per concurrent request, as the API does
        return await ModelService(uow).promote("m1", version)


async def test_concurrent_promotions_leave_one_production(pool: asyncpg.Pool, uow: UnitOfWork) -> None:
    """Several versions promoted to production at the same moment: each call either succeeds or reports a
    conflict (never a driver error), and exactly one version ends in production."""
    svc = ModelService(uow)
    await svc.create_model(binary_model("m1"))
    versions = [f"v{i}" for i in range(6)]
    for v in versions:
        await svc.create_version("m1", v, stage="production" if v == "v0" else "staging")
    for _ in range(5):
        results = await asyncio.gather(*(_promote_on_own_unit(pool, v) for v in versions[1:]), return_exceptions=True)
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, ConflictError)]
        assert not unexpected, unexpected
        assert any(not isinstance(r, BaseException) for r in results)
        stages = {r["version"]: r["stage"] for r in await pool.fetch("SELECT version, stage FROM model_versions")}
        assert sorted(stages.values()).count("production") == 1, stages
        assert set(stages.values()) == {"production", "staging"}


async def test_more_window_dimensions_than_the_windows_hold_are_refused(uow) -> None:  # type: ignore[no-untyped-def]
    from engine.errors import ValidationError
    from engine.services.models import ModelService
    from engine.windows.spec import MAX_DIMENSIONS

    keys = [f"k{i}" for i in range(MAX_DIMENSIONS + 1)]
    service = ModelService(uow)
    with pytest.raises(ValidationError) as info:
        await service.create_model(NewModel(name="m", task="regression", features=[], dimensions=keys))
    assert info.value.errors[0].field == "dimensions"
    model = await service.create_model(NewModel(name="m", task="regression", features=[], dimensions=keys[:-1]))
    assert model.dimensions == tuple(keys[:-1])
