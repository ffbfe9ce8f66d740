"""What the OpenAPI document says beyond what Litestar infers from the handlers' signatures.

- Ingest handlers read their body raw (the bounded decoders in `api.bodies`), so Litestar cannot see it: the
  operation classes here document it — a JSON array of rows (or `{"rows": [...]}`), NDJSON (one row per line),
  Arrow IPC (stream or file) and Parquet (one column per field, features as columns of their own).
- Links (OpenAPI 3.1 `links`) from what a call creates to the calls that use it: create a model → create its
  version, ingest, read it; create a version → ingest into it, read it; ingest → read the windows. Clients and
  stateful testers (schemathesis' stateful phase) follow them.

The row schemas say what the validator accepts (`engine.ingest.rows`, `labels`, `metrics`); the validator stays
the authority (a feature name must be one of the model's, a class label one of its labels, …)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, get_args

from litestar.openapi.spec import Link, OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Parameter

from api.bodies import ARROW_TYPES, NDJSON_TYPES, PARQUET_TYPES
from engine.algorithms.anomaly.series import known_methods
from engine.services.analyses.drift import Rule, ThresholdMode
from engine.services.window_params import GRANULARITIES

# The operation ids Litestar derives from the handlers (path + handler name); the links name them.
OP_CREATE_VERSION = "ApiV1ModelsNameVersionsCreateVersion"
OP_GET_MODEL = "ApiV1ModelsNameGetModel"
OP_GET_VERSION = "ApiV1ModelsNameVersionsGetVersion"
OP_PREDICTIONS = "ApiV1ModelsNamePredictionsPredictions"
OP_LABELS = "ApiV1ModelsNameLabelsLabels"
OP_METRIC_WINDOWS = "ApiV1ModelsNameWindowsMetricsModelMetrics"
OP_FEATURE_WINDOWS = "ApiV1ModelsNameWindowsFeaturesFeatureHistograms"

_STR = Schema(type=OpenAPIType.STRING)
_NUM = Schema(type=OpenAPIType.NUMBER)
_NULL = Schema(type=OpenAPIType.NULL)
_TIME = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME,
               description="ISO 8601 with a UTC offset (`Z` or `+01:00`); naive timestamps are refused")
_ID = Schema(type=OpenAPIType.STRING, min_length=1, max_length=200)
_TAGS = Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING, max_length=200),
               max_properties=16, description="at most 16 keys of ≤ 64 characters, values ≤ 200, 1 KiB in all")

PREDICTION_ROW = Schema(
    type=OpenAPIType.OBJECT, title="PredictionRow", required=["prediction_id", "time"],
    additional_properties=False,
    properties={
        "prediction_id": _ID,
        "time": _TIME,
        "prediction": Schema(one_of=[_STR, _NUM, _NULL], description="class label (classification) or value"),
        "score": Schema(one_of=[Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1), _NULL],
                        description="binary: probability of the positive class"),
        "probabilities": Schema(one_of=[
            Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=1)),
            Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.NUMBER, minimum=0,
                                                                         maximum=1)),
            _NULL], description="multiclass: one per class label (in order, or by label); sums to 1"),
        "latency_ms": Schema(one_of=[Schema(type=OpenAPIType.NUMBER, minimum=0), _NULL]),
        "label": Schema(one_of=[_STR, _NUM, _NULL], description="ground truth, when already known"),
        "label_time": Schema(one_of=[_TIME, _NULL]),
        "features": Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(one_of=[_NUM, _STR, _NULL]),
                           description="by feature name (the model's features only); null or absent = missing"),
        "segments": Schema(one_of=[_TAGS, _NULL], description="segment tags (keys: the model's dimensions)"),
    },
)
LABEL_ROW = Schema(
    type=OpenAPIType.OBJECT, title="LabelRow", required=["prediction_id", "label"], additional_properties=False,
    properties={"prediction_id": _ID, "label": Schema(one_of=[_STR, _NUM]),
                "label_time": Schema(one_of=[_TIME, _NULL], description="when the label was known (default: now)"),
                "time": Schema(one_of=[_TIME, _NULL], description="the prediction's time (finds old predictions)")},
)
METRIC_ROW = Schema(
    type=OpenAPIType.OBJECT, title="MetricRow", required=["name", "value", "time"], additional_properties=False,
    properties={"name": Schema(type=OpenAPIType.STRING, min_length=1, max_length=200), "value": _NUM, "time": _TIME,
                "tags": Schema(one_of=[_TAGS, _NULL])},
)


def _body(row: Schema, what: str) -> RequestBody:
    rows = Schema(type=OpenAPIType.ARRAY, items=row, min_items=1)
    json_body = Schema(one_of=[rows, Schema(type=OpenAPIType.OBJECT, required=["rows"], properties={"rows": rows},
                                            additional_properties=False)])
    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    content: dict[str, OpenAPIMediaType] = {"application/json": OpenAPIMediaType(schema=json_body)}
    content.update({t: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING,
                                                      description="one JSON row object per line")) for t in NDJSON_TYPES})
    content.update({t: OpenAPIMediaType(schema=binary) for t in ARROW_TYPES + PARQUET_TYPES})
    return RequestBody(content=content, required=True, description=(
        f"The {what}: a JSON array of rows (or `{{\"rows\": [...]}}`), NDJSON, Arrow IPC (stream: the end-of-stream "
        "marker is required; or file) or Parquet. Columnar bodies have one column per row field, features as "
        "columns named after them (`?segment_columns=` names the segment columns). Limits: "
        "DRIFTLINE_MAX_BATCH_ROWS rows, DRIFTLINE_MAX_BODY_BYTES on the wire and once decoded."))


def _link(operation_id: str, description: str, **parameters: str) -> Link:
    return Link(operation_id=operation_id, parameters=dict(parameters), description=description)


def _add_links(responses: Any, status: str, links: dict[str, Link]) -> None:
    response = (responses or {}).get(status)
    if isinstance(response, OpenAPIResponse):
        response.links = {**(response.links or {}), **links}


_FROM_PATH = "$request.path.name"


@dataclass
class CreateModelOperation(Operation):
    def __post_init__(self) -> None:
        name = "$response.body#/name"
        _add_links(self.responses, "201", {
            "GetModel": _link(OP_GET_MODEL, "the model just created", name=name),
            "CreateVersion": _link(OP_CREATE_VERSION, "add a version to it", name=name),
            "LogPredictions": _link(OP_PREDICTIONS, "log its predictions", name=name),
        })


@dataclass
class CreateVersionOperation(Operation):
    def __post_init__(self) -> None:
        version = "$response.body#/version"
        _add_links(self.responses, "201", {
            "GetVersion": _link(OP_GET_VERSION, "the version just created", name=_FROM_PATH, version=version),
            "LogPredictions": _link(OP_PREDICTIONS, "log predictions of this version", name=_FROM_PATH,
                                    version=version),
        })


def _read_links() -> dict[str, Link]:
    return {
        "MetricWindows": _link(OP_METRIC_WINDOWS, "the model's metric windows", name=_FROM_PATH),
        "FeatureWindows": _link(OP_FEATURE_WINDOWS, "the model's feature windows", name=_FROM_PATH),
    }


@dataclass
class PredictionsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _body(PREDICTION_ROW, "predictions")
        _add_links(self.responses, "201", {**_read_links(),
                                           "LogLabels": _link(OP_LABELS, "label these predictions", name=_FROM_PATH)})


@dataclass
class LabelsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _body(LABEL_ROW, "labels")
        _add_links(self.responses, "201", _read_links())


@dataclass
class MetricsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _body(METRIC_ROW, "custom metric values")


# Query parameters with a fixed set of values, published as enums (the services still check them and say
# which values are known, so a client that sends another one gets a 422 naming the parameter).
AnomalyFit = Annotated[str, Parameter(schema_extra={"enum": ["reference", "whole"]})]
Granularity = Annotated[str, Parameter(schema_extra={"enum": ["auto", *GRANULARITIES]},
                                       description="bucket width, or auto (the finest within max_points)")]
DriftRule = Annotated[str, Parameter(schema_extra={"enum": list(get_args(Rule))})]
DriftThresholdMode = Annotated[str, Parameter(schema_extra={"enum": list(get_args(ThresholdMode))})]
AnomalyMethod = Annotated[str, Parameter(schema_extra={"enum": known_methods()})]
