"""The published document describes what Litestar cannot infer: the ingest request bodies (JSON rows, NDJSON,
Arrow IPC, Parquet), the enums of fixed-choice query parameters, the 200 of a replayed batch, and links that
resolve (operation ids and parameters that exist)."""

from __future__ import annotations

from typing import Any

from api.app import create_app
from api.bodies import INGEST_TYPES
from engine.config import Settings

DOC: dict[str, Any] = create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/unused")).openapi_schema.to_schema()
INGEST = {"/api/v1/models/{name}/predictions": "prediction_id", "/api/v1/models/{name}/labels": "label",
          "/api/v1/metrics": "value"}


def _operations() -> dict[str, tuple[str, dict[str, Any]]]:
    return {op["operationId"]: (path, op) for path, item in DOC["paths"].items() for op in item.values()
            if isinstance(op, dict) and "operationId" in op}


def test_ingest_bodies_and_the_replayed_200_are_documented() -> None:
    for path, field in INGEST.items():
        op = DOC["paths"][path]["post"]
        body = op["requestBody"]
        assert body["required"] and set(body["content"]) == set(INGEST_TYPES), path
        rows = body["content"]["application/json"]["schema"]["oneOf"][0]
        assert rows["type"] == "array" and field in rows["items"]["properties"], path
        assert rows["items"]["additionalProperties"] is False
        assert "201" in op["responses"] and "200" in op["responses"], path
        assert "Idempotency-Key" in op["responses"]["200"]["description"]


def test_fixed_choice_parameters_are_enums() -> None:
    params = {(path, p["name"]): p["schema"] for path, item in DOC["paths"].items() for op in item.values()
              if isinstance(op, dict) for p in op.get("parameters", [])}
    granularity = [s for (_, name), s in params.items() if name == "granularity"]
    assert len(granularity) >= 7 and all(s["enum"][0] == "auto" and "1h" in s["enum"] for s in granularity)
    assert {"sustained", "classic"} == set(next(s for (_, n), s in params.items() if n == "rule")["enum"])
    assert "mad" in next(s for (_, n), s in params.items() if n == "method")["enum"]


def test_links_resolve() -> None:
    ops = _operations()
    links = [(op_id, name, link) for op_id, (_, op) in ops.items()
             for response in op["responses"].values() for name, link in (response.get("links") or {}).items()]
    assert len(links) >= 9
    for source, name, link in links:
        assert link["operationId"] in ops, (source, name)
        _, target = ops[link["operationId"]]
        declared = {p["name"] for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= declared, (source, name, link["parameters"], declared)
