"""Deleting stored predictions (a GDPR erasure, a bad backfill) so that the windows follow.

TimescaleDB refuses DELETE triggers on compressed hypertables (full edition), so a delete cannot rely on a
trigger to mark the windows stale: every delete goes through `dl_delete_predictions` (migration 0004),
which deletes with its time bounds as constants (only the compressed batches holding the rows are
decompressed), records the deleted rows' hours in `window_invalidations` and drops their entries from
`prediction_times`, all in the caller's transaction. The same SQL function is the supported way to delete
in psql on either edition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.errors import RowError, ValidationError
from engine.ingest.validate import MAX_ID_LENGTH
from engine.store import models_repo
from engine.store.sqlfiles import query
from engine.store.unit import UnitOfWork


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: int

    def to_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted}


def _check(ids: Sequence[str] | None, start: datetime | None, end: datetime | None, max_ids: int) -> None:
    errors: list[RowError] = []
    if ids is None and start is None and end is None:
        errors.append(RowError(None, None, "give prediction ids, a time range (start, end), or both"))
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.utcoffset() is None:
            errors.append(RowError(None, name, "a timestamp with a UTC offset (…Z or …+01:00)"))
    if not errors and start is not None and end is not None and end <= start:
        errors.append(RowError(None, "end", "must be after start"))
    if ids is not None:
        if not ids:
            errors.append(RowError(None, "prediction_id", "an empty list of ids; omit it to delete by time only"))
        elif len(ids) > max_ids:
            errors.append(RowError(None, "prediction_id", f"{len(ids)} ids exceed the limit of {max_ids}; split them"))
        errors.extend(RowError(i, "prediction_id", f"a string of 1–{MAX_ID_LENGTH} characters without NUL")
                      for i, p in enumerate(ids)
                      if not isinstance(p, str) or not 0 < len(p) <= MAX_ID_LENGTH or "\x00" in p)
    if errors:
        raise ValidationError(errors)


class PredictionService:
    def __init__(self, uow: UnitOfWork, max_ids: int = 100_000) -> None:
        self.uow = uow
        self.max_ids = max_ids

    async def delete(
        self,
        model_name: str,
        ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> DeleteResult:
        """Delete the model's predictions with these ids (any time, within the label horizon when no range
        is given), in [start, end), or with these ids in [start, end)."""
        _check(ids, start, end, self.max_ids)
        model = await models_repo.get_model(self.uow.conn, model_name)
        async with self.uow.transaction() as conn:
            deleted = await conn.fetchval(
                query("predictions.delete_predictions"), model.name, start, end, list(ids) if ids is not None else None
            )
        return DeleteResult(int(deleted))
