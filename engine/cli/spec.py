"""Model specs from JSON files, in the shape of the REST body of `POST /api/v1/models`::

    {"name": "churn", "task": "binary", "class_labels": ["stay", "churn"], "threshold": 0.5,
     "dimensions": ["region"], "description": "…",
     "features": [{"name": "age", "kind": "numeric", "min_value": 0, "max_value": 120},
                  {"name": "plan", "kind": "categorical", "categories": ["free", "pro"]}]}

Shape errors (unknown keys, wrong JSON types) are reported here with their field; value rules (names,
labels, ranges) are the model service's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.domain import NewFeature, NewModel
from engine.errors import RowError, ValidationError

MODEL_KEYS = {"name", "task", "features", "class_labels", "threshold", "dimensions", "description"}
FEATURE_KEYS = {"name", "kind", "min_value", "max_value", "categories", "nullable"}


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _feature(i: int, item: Any, errors: list[RowError]) -> NewFeature | None:
    where = f"features[{i}]"
    if not isinstance(item, dict):
        errors.append(RowError(None, where, "expected an object"))
        return None
    for key in sorted(item.keys() - FEATURE_KEYS):
        errors.append(RowError(None, f"{where}.{key}", f"unknown field; known: {', '.join(sorted(FEATURE_KEYS))}"))
    cats = item.get("categories")
    if cats is not None and not _str_list(cats):
        errors.append(RowError(None, f"{where}.categories", "expected a list of strings"))
        cats = None
    nullable = item.get("nullable", True)
    if not isinstance(nullable, bool):
        errors.append(RowError(None, f"{where}.nullable", "expected true or false"))
        nullable = True
    return NewFeature(name=item.get("name"), kind=item.get("kind"),  # type: ignore[arg-type]
                      min_value=item.get("min_value"), max_value=item.get("max_value"),
                      categories=tuple(cats) if cats is not None else None, nullable=nullable)


def new_model_from_json(data: Any) -> NewModel:
    """A `NewModel` from a decoded JSON spec, or a ValidationError naming every shape problem."""
    if not isinstance(data, dict):
        raise ValidationError([RowError(None, None, "a model spec is a JSON object")])
    errors = [RowError(None, key, f"unknown field; known: {', '.join(sorted(MODEL_KEYS))}")
              for key in sorted(data.keys() - MODEL_KEYS)]
    for key in ("name", "task"):
        if not isinstance(data.get(key), str):
            errors.append(RowError(None, key, "required, a string"))
    raw_features = data.get("features", [])
    if not isinstance(raw_features, list):
        errors.append(RowError(None, "features", "expected a list of feature objects"))
        raw_features = []
    features = [f for i, item in enumerate(raw_features) if (f := _feature(i, item, errors)) is not None]
    labels = data.get("class_labels")
    if labels is not None and not _str_list(labels):
        errors.append(RowError(None, "class_labels", "expected a list of strings"))
    dims = data.get("dimensions", [])
    if not _str_list(dims):
        errors.append(RowError(None, "dimensions", "expected a list of strings"))
    threshold = data.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        errors.append(RowError(None, "threshold", "expected a number"))
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.append(RowError(None, "description", "expected a string"))
    if errors:
        raise ValidationError(errors)
    return NewModel(name=data["name"], task=data["task"], features=tuple(features),
                    class_labels=tuple(labels) if labels is not None else None, threshold=float(threshold),
                    dimensions=tuple(dims), description=description)


def load_spec(path: Path) -> NewModel:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValidationError([RowError(None, "file", f"cannot read {path}: {exc.strerror}")]) from exc
    except json.JSONDecodeError as exc:
        raise ValidationError([RowError(None, "file", f"{path} is not valid JSON: {exc}")]) from exc
    return new_model_from_json(data)
