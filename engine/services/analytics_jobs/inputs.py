"""Server-side input files of an analytics job: where they may be, and whether they can be ingested.

A job body names files on the server, so a path is a capability: only files under
`DRIFTLINE_ANALYTICS_INPUT_ROOT` are read. Relative paths are taken from the root; absolute ones must lie
inside it; a `..` component is refused outright, and the path is resolved (symlinks followed) before the
containment check, so a link pointing out of the root is refused too. Without a configured root every
path is refused. The checks run when a job is created and again at every run (a file may have been
replaced since).

The column checks read the Parquet schema only (the footer), and name the column a file lacks:
predictions need `prediction_id`, a timezone-aware `time` and the model's output (`prediction`; or
`score`/`probabilities` for classifiers), every non-nullable feature, and no column the model does not
know (features by name, segments as `segment.<key>`, as `driftline ingest predictions` takes them);
metrics need `name`, `value` and a timezone-aware `time` (`tags` optional).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Literal

import polars as pl

from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.ingest.canonical import BASE_COLUMNS, SEGMENT_PREFIX

InputKind = Literal["predictions", "metrics"]
PARQUET_MAGIC = b"PAR1"
METRIC_FILE_COLUMNS = ("name", "value", "time", "tags")


def _refuse(field: str, reason: str) -> ValidationError:
    return ValidationError([RowError(None, field, reason)])


def resolve_input(root: str | None, raw: str, field: str) -> Path:
    """The real path of `raw` inside `root`, or ValidationError naming `field` and why."""
    if root is None:
        raise _refuse(field, "server-side input files are disabled: set DRIFTLINE_ANALYTICS_INPUT_ROOT to the "
                      "directory jobs may read from")
    if not raw or "\x00" in raw:
        raise _refuse(field, "an empty path or one containing NUL")
    if ".." in PurePosixPath(raw).parts:
        raise _refuse(field, "'..' is not allowed in a path")
    base = Path(os.path.realpath(root))
    candidate = Path(raw) if os.path.isabs(raw) else base / raw
    real = Path(os.path.realpath(candidate))
    if not real.is_relative_to(base):
        raise _refuse(field, f"{raw!r} is outside the input root (DRIFTLINE_ANALYTICS_INPUT_ROOT)"
                      + (" through a symbolic link" if Path(os.path.abspath(candidate)).is_relative_to(base) else ""))
    if not real.is_file():
        raise _refuse(field, f"{raw!r}: no such file under the input root")
    try:
        with real.open("rb") as fh:
            head = fh.read(4)
            fh.seek(-4, os.SEEK_END)
            tail = fh.read(4)
    except OSError as exc:
        raise _refuse(field, f"{raw!r} cannot be read: {exc.strerror or exc}") from exc
    if head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
        raise _refuse(field, f"{raw!r} is not a Parquet file")
    return real


def _is_aware_time(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is not None


def _schema(path: Path, field: str) -> dict[str, pl.DataType]:
    try:
        return dict(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _refuse(field, f"unreadable Parquet file: {str(exc)[:300]}") from exc


def _time_error(schema: dict[str, pl.DataType], field: str) -> RowError | None:
    if "time" not in schema:
        return RowError(None, field, "column 'time' is missing")
    if not _is_aware_time(schema["time"]):
        return RowError(None, field, f"column 'time' must be a timezone-aware timestamp, got {schema['time']}")
    return None


def check_columns(kind: InputKind, path: Path, model: ModelSpec, field: str) -> None:
    """Refuse a file lacking a needed column (or, for predictions, carrying one the model does not know)."""
    schema = _schema(path, field)
    errors: list[RowError] = []
    if (err := _time_error(schema, field)) is not None:
        errors.append(err)
    if kind == "metrics":
        errors += [RowError(None, field, f"column {c!r} is missing") for c in ("name", "value")
                   if c not in schema]
        errors += [RowError(None, field, f"unknown column {c!r}; a metrics file has {', '.join(METRIC_FILE_COLUMNS)}")
                   for c in schema if c not in METRIC_FILE_COLUMNS]
    else:
        if "prediction_id" not in schema:
            errors.append(RowError(None, field, "column 'prediction_id' is missing"))
        outputs = {"regression": ("prediction",), "binary": ("prediction", "score", "probabilities"),
                   "multiclass": ("prediction", "probabilities")}[model.task]
        if not any(c in schema for c in outputs):
            errors.append(RowError(None, field, f"column {outputs[0]!r} is missing (a {model.task} model's "
                                   f"predictions need one of {', '.join(outputs)})"))
        features = {f.name for f in model.features}
        errors += [RowError(None, field, f"column {f.name!r} is missing (feature declared non-nullable)")
                   for f in model.features if not f.nullable and f.name not in schema]
        errors += [RowError(None, field, f"unknown column {c!r}: not a feature of model {model.name!r}, a "
                            f"'{SEGMENT_PREFIX}<key>' column, or one of {', '.join(BASE_COLUMNS)}")
                   for c in schema if c not in BASE_COLUMNS and c not in features and not c.startswith(SEGMENT_PREFIX)]
    if errors:
        raise ValidationError(errors)


def checked_inputs(root: str | None, model: ModelSpec, metrics_path: str, predictions_path: str) -> tuple[Path, Path]:
    """Both files resolved and checked: (metrics, predictions). Every problem of both is reported at once."""
    errors: list[RowError] = []
    found: dict[str, Path] = {}
    for kind, raw, field in (("metrics", metrics_path, "metrics_path"), ("predictions", predictions_path,
                                                                        "predictions_path")):
        try:
            path = resolve_input(root, raw, field)
            check_columns(kind, path, model, field)  # type: ignore[arg-type]
            found[kind] = path
        except ValidationError as exc:
            errors += exc.errors
    if errors:
        raise ValidationError(errors)
    return found["metrics"], found["predictions"]
