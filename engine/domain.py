"""The one description of a registered model, its features and versions — used by the services, the REST
API (request and response bodies), the SDK (decoded responses) and the CLI (printed JSON) alike.

`NewModel` / `NewFeature` are what a caller asks to register; `ModelSpec` / `FeatureSpec` what the registry
holds (ids, positions, timestamps added). The patterns on the input types are the registry's own rules, stated
where a decoder (and the published OpenAPI schema) can see them; the registry checks them again for inputs
that were built in code rather than decoded (CLI, tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Task = Literal["binary", "multiclass", "regression"]
FeatureKind = Literal["numeric", "categorical"]
Stage = Literal["development", "staging", "production", "archived"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
STAGES: tuple[Stage, ...] = ("development", "staging", "production", "archived")

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
VERSION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"  # feature names and segment keys

ModelName = Annotated[str, msgspec.Meta(pattern=MODEL_NAME_PATTERN)]
VersionName = Annotated[str, msgspec.Meta(pattern=VERSION_NAME_PATTERN)]
Key = Annotated[str, msgspec.Meta(pattern=KEY_PATTERN)]


class NewFeature(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A feature as declared when a model is registered."""

    name: Key
    kind: FeatureKind
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = True


class NewModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A model as asked to be registered (the body of `POST /api/v1/models`, a CLI spec file)."""

    name: ModelName
    task: Task
    features: tuple[NewFeature, ...] = ()
    class_labels: tuple[str, ...] | None = None
    threshold: float = 0.5
    dimensions: tuple[Key, ...] = ()
    description: str = ""


class FeatureSpec(msgspec.Struct, frozen=True):
    name: str
    kind: FeatureKind
    position: int = 0  # 1-based within its kind; assigned by the registry
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = True


class VersionInfo(msgspec.Struct, frozen=True):
    id: int
    model_id: int
    version: str
    stage: Stage
    description: str
    created_at: datetime
    promoted_at: datetime | None
    archived_at: datetime | None


class ModelSpec(msgspec.Struct, frozen=True):
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


class NewDimension(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A segment key to declare as a window dimension of an existing model (`POST …/models/{name}/dimensions`)."""

    name: Key


class DimensionDeclared(msgspec.Struct, frozen=True):
    """A dimension declared after data exists. The model's windows over `backfill_start`..`backfill_end`
    (the retained raw rows, to the minute; null when the model has no rows yet) are recomputed in the
    background by the refresher; until then reads answer those ranges from raw rows, so grouping and
    filtering by the new key is exact at once. Windows older than the retained raw rows keep no value for
    it (they group under null)."""

    model: ModelSpec
    dimension: str
    backfill_start: datetime | None
    backfill_end: datetime | None


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
    # Set for bins built as part of a baseline (migration 0006): the baseline's id, and per reference bin the
    # sum of the values in it, with the reference's missing / out-of-range counts, range and sum of squares.
    baseline_set: int | None = None
    reference_sums: tuple[float, ...] | None = None
    reference_missing: int | None = None
    reference_out_of_range: int | None = None
    reference_min: float | None = None
    reference_max: float | None = None
    reference_sumsq: float | None = None

    @property
    def n_bins(self) -> int:
        if self.kind == "numeric":
            assert self.edges is not None
            return len(self.edges) + 1
        assert self.categories is not None
        return len(self.categories)
