"""The published OpenAPI document describes every successful answer: each 2xx response of each operation has
a content schema that is an object with properties, or an array of such (after resolving `$ref`s). A handler
returning `dict[str, Any]` (published as a bare `object`) or nothing typed fails here, by name."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _resolve(doc: dict[str, Any], schema: dict[str, Any], seen: frozenset[str] = frozenset()) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/") and ref not in seen, f"unresolvable or cyclic $ref {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return _resolve(doc, node, seen | {ref})


def _problem(doc: dict[str, Any], schema: dict[str, Any] | None, depth: int = 0) -> str | None:
    """Why `schema` does not describe a typed body, or None when it does."""
    if not schema:
        return "no schema (or {})"
    schema = _resolve(doc, schema)
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:
        typed = [a for a in alternatives if _resolve(doc, a).get("type") != "null"]
        if not typed:
            return "only null"
        problems = [p for a in typed if (p := _problem(doc, a, depth)) is not None]
        return "; ".join(problems) if problems else None
    if schema.get("type") == "array":
        if depth > 0:
            return "array of arrays"
        why = _problem(doc, schema.get("items"), depth + 1)
        return None if why is None else f"array of {why}"
    if schema.get("type") == "object" and schema.get("properties"):
        return None
    return f"not an object with properties: {schema}"


def untyped_successes(doc: dict[str, Any]) -> list[str]:
    """`METHOD path status: why` for every 2xx response without a typed content schema."""
    out = []
    for path, item in sorted(doc.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            successes = {code: r for code, r in op.get("responses", {}).items() if str(code).startswith("2")}
            if not successes:
                out.append(f"{method.upper()} {path}: no 2xx response documented")
            for code, response in sorted(successes.items()):
                response = _resolve(doc, response)
                content = response.get("content") or {}
                if not content:
                    out.append(f"{method.upper()} {path} {code}: no content")
                for media, body in sorted(content.items()):
                    if (why := _problem(doc, body.get("schema"))) is not None:
                        out.append(f"{method.upper()} {path} {code} {media}: {why}")
    return out


async def test_every_success_response_has_a_typed_schema(client: AsyncTestClient) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["paths"]) >= 10  # the document is the app's, not an empty one
    offending = untyped_successes(doc)
    assert not offending, "2xx responses without a typed content schema:\n" + "\n".join(offending)


def test_the_walker_refuses_untyped_bodies() -> None:
    """The check itself: `{}`, a bare object, an array of bare objects and a missing schema fail; a `$ref` to
    an object with properties, an array of it and `X | null` pass."""
    typed = {"type": "object", "properties": {"a": {"type": "integer"}}}
    doc: dict[str, Any] = {"components": {"schemas": {"T": typed, "Bare": {"type": "object"}}}, "paths": {}}
    ref = {"$ref": "#/components/schemas/T"}
    good = [ref, {"type": "array", "items": ref}, {"oneOf": [ref, {"type": "null"}]}]
    bad = [None, {}, {"type": "object"}, {"$ref": "#/components/schemas/Bare"},
           {"type": "array", "items": {"type": "object"}}, {"type": "array", "items": {}},
           {"type": "object", "additionalProperties": {}}, {"oneOf": [{"type": "null"}]}]
    assert [_problem(doc, s) for s in good] == [None] * len(good)
    assert all(_problem(doc, s) is not None for s in bad)
    for i, schema in enumerate(good + bad):
        doc["paths"][f"/p{i}"] = {"get": {"responses": {"200": {"description": "", "content": {
            "application/json": {"schema": schema}}}}}}
    doc["paths"]["/none"] = {"post": {"responses": {"201": {"description": ""}}}}
    offending = untyped_successes(doc)
    assert [o.split()[1] for o in offending] == sorted([f"/p{i}" for i in range(len(good), len(good) + len(bad))]
                                                       + ["/none"])
