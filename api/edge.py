"""What every request passes before its handler: text that PostgreSQL cannot hold (NUL) in the path or
query is refused, and a request with a body must say it is JSON (or, for ingest, one of the documented
NDJSON / Arrow / Parquet types). A cross-site HTML form or a `text/plain` fetch can therefore never reach a
handler: browsers send those without a CORS preflight, while `application/json` needs one (and the CORS
policy, `DRIFTLINE_CORS_ORIGINS`, allows no origin by default)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from api.bodies import INGEST_TYPES, JSON_TYPES, media_type
from engine.errors import RowError, ValidationError

T = TypeVar("T")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Ingest routes and the baseline upload take their body raw (the decoders read it); every other body is JSON.
_INGEST_SUFFIXES = ("/predictions", "/labels", "/metrics", "/baselines/upload")


class EdgeMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        path: str = scope.get("path", "")
        if "\x00" in path:
            raise HTTPException(status_code=400, detail="NUL character (%00) in the path is not allowed")
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            raise HTTPException(status_code=400, detail="NUL character (%00) in the query string is not allowed")
        if scope.get("method") in _BODY_METHODS:
            ctype = media_type(_header(scope, b"content-type"))
            allowed = INGEST_TYPES if path.endswith(_INGEST_SUFFIXES) and "/api/v1/" in path else JSON_TYPES
            if ctype not in allowed:
                raise HTTPException(status_code=415, detail=f"unsupported content type {ctype or '(none)'!r}: "
                                    f"send {', '.join(allowed)} (also for an empty body)")
        await next_app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def strict_body(request: Request[Any, Any, Any], type_: type[T], default: T | None = None) -> T:
    """The JSON body decoded strictly ("0.5" is not a number, 1 is not a bool). Litestar converts bodies
    leniently, as it must for query strings; the handlers that take a body decode it again with this."""
    raw = await request.body()
    if not raw.strip() and default is not None:
        return default
    try:
        value = msgspec.json.decode(raw, type=type_, strict=True)
    except msgspec.ValidationError as exc:
        raise HTTPException(status_code=400, detail=f"invalid body: {exc}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(status_code=400, detail=f"malformed JSON body: {exc}") from exc
    if b"\\u0000" in raw:  # PostgreSQL text cannot hold NUL: say which field rather than let the database refuse
        where = _nul_field(msgspec.json.decode(raw), "")
        if where is not None:
            raise ValidationError([RowError(None, where, "NUL character (\\u0000) is not allowed in text")])
    return value


def _nul_field(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        if "\x00" in key:
            return key
        if (found := _nul_field(item, key)) is not None:
            return found
    return None
