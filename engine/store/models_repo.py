"""Model registry persistence (small metadata tables)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from engine.domain import FeatureSpec, ModelSpec, VersionInfo
from engine.errors import ConflictError, NotFoundError
from engine.store.sqlfiles import query


def _version(row: asyncpg.Record) -> VersionInfo:
    return VersionInfo(**dict(row))


def _model(row: asyncpg.Record, features: list[FeatureSpec]) -> ModelSpec:
    return ModelSpec(
        id=row["id"],
        name=row["name"],
        task=row["task"],
        class_labels=tuple(row["class_labels"]) if row["class_labels"] is not None else None,
        threshold=row["threshold"],
        dimensions=tuple(row["dimensions"]),
        description=row["description"],
        created_at=row["created_at"],
        features=tuple(features),
    )


def _feature(row: asyncpg.Record) -> FeatureSpec:
    return FeatureSpec(
        name=row["name"],
        kind=row["kind"],
        position=row["position"],
        min_value=row["min_value"],
        max_value=row["max_value"],
        categories=tuple(row["categories"]) if row["categories"] is not None else None,
        nullable=row["nullable"],
    )


async def insert_model(conn: asyncpg.Connection, spec: ModelSpec) -> int:
    async with conn.transaction():
        try:
            model_id: int = await conn.fetchval(
                query("models.insert_model"),
                spec.name,
                spec.task,
                list(spec.class_labels) if spec.class_labels is not None else None,
                spec.threshold,
                list(spec.dimensions),
                spec.description,
            )
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(f"model {spec.name!r} already exists") from exc
        except asyncpg.CheckViolationError as exc:
            raise ConflictError(f"model {spec.name!r} violates {exc.constraint_name}") from exc
        await conn.executemany(
            query("models.insert_feature"),
            [
                (
                    model_id,
                    f.name,
                    f.kind,
                    f.position,
                    f.min_value,
                    f.max_value,
                    list(f.categories) if f.categories is not None else None,
                    f.nullable,
                    ordinal,
                )
                for ordinal, f in enumerate(spec.features)
            ],
        )
    return model_id


async def _features_by_model(conn: asyncpg.Connection, ids: list[int]) -> dict[int, list[FeatureSpec]]:
    out: dict[int, list[FeatureSpec]] = {i: [] for i in ids}
    for row in await conn.fetch(query("models.select_features"), ids):
        out[row["model_id"]].append(_feature(row))
    return out


async def get_model(conn: asyncpg.Connection, name: str) -> ModelSpec:
    row = await conn.fetchrow(query("models.select_model_by_name"), name)
    if row is None:
        raise NotFoundError(f"model {name!r} does not exist")
    features = await _features_by_model(conn, [row["id"]])
    return _model(row, features[row["id"]])


async def list_models(conn: asyncpg.Connection) -> list[ModelSpec]:
    rows = await conn.fetch(query("models.select_models"))
    features = await _features_by_model(conn, [r["id"] for r in rows])
    return [_model(r, features[r["id"]]) for r in rows]


async def _lock_model_stages(conn: asyncpg.Connection, model_id: int) -> None:
    """Serialise changes of a model's production version. Without it two concurrent promotions each demote
    the production version their snapshot sees, and the second then violates the one-production index."""
    # NO KEY UPDATE: does not block inserts of new versions (their foreign key takes KEY SHARE).
    await conn.execute(query("models.lock_model"), model_id)


async def insert_version(
    conn: asyncpg.Connection, model_id: int, version: str, stage: str, description: str
) -> VersionInfo:
    async with conn.transaction():
        if stage == "production":
            await _lock_model_stages(conn, model_id)
            await conn.execute(query("models.demote_production"), model_id, -1)
        try:
            row = await conn.fetchrow(query("models.insert_version"), model_id, version, stage, description)
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(f"version {version!r} already exists") from exc
        except asyncpg.CheckViolationError as exc:
            raise ConflictError(f"version {version!r} violates {exc.constraint_name}") from exc
    return _version(row)


async def list_versions(conn: asyncpg.Connection, model_id: int) -> list[VersionInfo]:
    return [_version(r) for r in await conn.fetch(query("models.select_versions"), model_id)]


async def get_version(conn: asyncpg.Connection, model: ModelSpec, version: str | None) -> VersionInfo:
    """The named version, or the production version when `version` is None."""
    if version is None:
        row = await conn.fetchrow(query("models.select_production_version"), model.id)
        if row is None:
            raise NotFoundError(f"model {model.name!r} has no production version; name a version explicitly")
    else:
        row = await conn.fetchrow(query("models.select_version"), model.id, version)
        if row is None:
            raise NotFoundError(f"model {model.name!r} has no version {version!r}")
    return _version(row)


async def set_stage(conn: asyncpg.Connection, model: ModelSpec, version: str, stage: str) -> VersionInfo:
    async with conn.transaction():
        if stage == "production":
            await _lock_model_stages(conn, model.id)
        row = await conn.fetchrow(query("models.select_version_for_update"), model.id, version)
        if row is None:
            raise NotFoundError(f"model {model.name!r} has no version {version!r}")
        if row["stage"] == "archived" and stage == "production":
            raise ConflictError(f"version {version!r} is archived; move it to staging before promoting it")
        if stage == "production":
            await conn.execute(query("models.demote_production"), model.id, row["id"])
        updated = await conn.fetchrow(query("models.set_stage"), row["id"], stage)
    return _version(updated)


async def append_dimension(
    conn: asyncpg.Connection, name: str, key: str, limit: int
) -> tuple[int, tuple[datetime, datetime] | None]:
    """Add `key` to the model's dimensions and mark its prediction windows over the retained raw rows stale
    (one transaction): the refresher recomputes them with the new key, reads answer them from raw rows
    until then. Returns the model id and the range marked (None when the model has no rows)."""
    async with conn.transaction():
        row = await conn.fetchrow(query("models.lock_model_dimensions"), name)
        if row is None:
            raise NotFoundError(f"model {name!r} does not exist")
        dims = tuple(row["dimensions"])
        if key in dims:
            raise ConflictError(f"{key!r} is already a dimension of {name!r}")
        if len(dims) >= limit:
            raise ConflictError(
                f"model {name!r} has {len(dims)} dimensions ({', '.join(dims)}); the windows hold at most {limit}"
            )
        await conn.execute(query("models.append_dimension"), row["id"], key)
        span = await conn.fetchrow(query("models.raw_prediction_range"), row["id"])
        if span["lo"] is None:
            return row["id"], None
        await conn.execute(query("models.invalidate_predictions"), row["id"], span["lo"], span["hi"])
    return row["id"], (span["lo"], span["hi"])
