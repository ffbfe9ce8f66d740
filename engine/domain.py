"""Plain descriptions of registered models, shared by ingest, windows and analyses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import msgspec

Task = Literal["binary", "multiclass", "regression"]
FeatureKind = Literal["numeric", "categorical"]
Stage = Literal["development", "staging", "production", "archived"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
STAGES: tuple[Stage, ...] = ("development", "staging", "production", "archived")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    kind: FeatureKind
    position: int = 0  # 1-based within its kind; assigned by the registry
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "position": self.position,
            "min_value": self.min_value,
            "max_value": self.max_value,
            "categories": list(self.categories) if self.categories is not None else None,
            "nullable": self.nullable,
        }


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: int
    model_id: int
    version: str
    stage: Stage
    description: str
    created_at: datetime
    promoted_at: datetime | None
    archived_at: datetime | None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: int
    name: str
    task: Task
    class_labels: tuple[str, ...] | None
    threshold: float
    dimensions: tuple[str, ...]
    description: str
    created_at: datetime
    features: tuple[FeatureSpec, ...]

    @property
    def numeric_features(self) -> tuple[FeatureSpec, ...]:
        return tuple(sorted((f for f in self.features if f.kind == "numeric"), key=lambda f: f.position))

    @property
    def categorical_features(self) -> tuple[FeatureSpec, ...]:
        return tuple(sorted((f for f in self.features if f.kind == "categorical"), key=lambda f: f.position))

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"


class FeatureBaseline(msgspec.Struct, frozen=True, kw_only=True):
    """A feature's reference bins, against which its windows are counted: numeric features by `edges`
    (bin j holds `edges[j-1] <= x < edges[j]`, open outer bins), categorical ones by `categories`;
    `lower`/`upper` the declared range (values outside count as out of range); `position` the feature's
    1-based slot within its kind in the stored rows."""

    id: int
    feature: str
    kind: FeatureKind
    position: int
    edges: tuple[float, ...] | None
    categories: tuple[str, ...] | None
    lower: float | None
    upper: float | None
    reference_counts: tuple[int, ...] | None

    @property
    def n_bins(self) -> int:
        if self.kind == "numeric":
            assert self.edges is not None
            return len(self.edges) + 1
        assert self.categories is not None
        return len(self.categories)
