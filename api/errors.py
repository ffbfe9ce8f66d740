"""Domain errors → HTTP statuses, in one place. The database being unreachable is a 503 with Retry-After
wherever it surfaces (acquiring a connection, or a connection lost mid-request); values PostgreSQL refuses
are 422; anything else is a 500 whose traceback goes to the server log (the client gets no internals)."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from api.schemas import ErrorOut, RowErrorOut
from engine.algorithms.registry import UnknownMethodError
from engine.errors import (
    BodyTooLargeError,
    ConflictError,
    DriftlineError,
    MalformedBodyError,
    NotFoundError,
    RowError,
    StoreUnavailableError,
    ValidationError,
)

log = logging.getLogger("driftline.api")
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "database unavailable; retry later"
# The driver's ways of saying the server went away (restart, crash, admin shutdown, too many clients).
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P02 crash shutdown, …
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx, e.g. too many connections
)


def _response(status: int, detail: str, errors: list[RowError] | None = None,
              headers: dict[str, str] | None = None) -> Response[ErrorOut]:
    body = ErrorOut(status_code=status, detail=detail,
                    errors=[RowErrorOut(e.row, e.field, e.reason) for e in errors or ()])
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def unavailable() -> Response[ErrorOut]:
    return _response(503, UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, _CONNECTION_ERRORS)


def driftline_error(request: Request, exc: Exception) -> Response[ErrorOut]:
    if isinstance(exc, BodyTooLargeError):
        return _response(413, str(exc), exc.errors)
    if isinstance(exc, MalformedBodyError):
        return _response(400, str(exc), exc.errors)
    if isinstance(exc, ValidationError):
        return _response(422, str(exc), exc.errors)
    if isinstance(exc, NotFoundError):
        return _response(404, str(exc))
    if isinstance(exc, ConflictError):
        return _response(409, str(exc))
    if isinstance(exc, StoreUnavailableError):
        return unavailable()
    if isinstance(exc, UnknownMethodError):
        return _response(422, str(exc))
    # a domain error nobody mapped: a 500 with its own (deliberate) message, its traceback in the log
    return _server_error(request, exc, f"{type(exc).__name__}: {exc}")


def _server_error(request: Request, exc: Exception, detail: str) -> Response[ErrorOut]:
    log.error("%s %s answered 500", request.method, request.url.path, exc_info=exc)
    return _response(500, detail)


def unexpected(request: Request, exc: Exception) -> Response[ErrorOut]:
    if is_connection_error(exc):
        log.warning("database connection lost during %s %s: %s", request.method, request.url.path,
                    type(exc).__name__)
        return unavailable()
    if isinstance(exc, UnicodeDecodeError):  # Litestar's own body decoding lets invalid UTF-8 through as this
        return _response(400, f"malformed JSON body: not valid UTF-8 ({exc.reason} at byte {exc.start})",
                         [RowError(None, "body", "not valid UTF-8")])
    if isinstance(exc, asyncpg.DataError):  # 22xxx: a value the database cannot take
        return _response(422, f"value refused by the database: {exc}".replace("\x00", "\\u0000")[:500])
    # a bug or an unmapped driver error: no internals in the body (as Litestar's own 500), the traceback logged
    return _server_error(request, exc, "Internal Server Error")


def litestar_validation(request: Request, exc: Exception) -> Response[ErrorOut]:
    assert isinstance(exc, ValidationException)
    errors = [
        RowError(None, str(e.get("key") or e.get("source") or "body"), str(e.get("message")))
        for e in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(e, dict)
    ]
    detail = exc.detail
    if any(_UNENCODED_OFFSET.search(v) for v in request.query_params.values()):
        # "+00:00" unencoded in a URL arrives as " 00:00": a '+' in a query string means a space
        detail += f" ({OFFSET_HINT})"
        errors = [RowError(e.row, e.field, f"{e.reason} ({OFFSET_HINT})") for e in errors]
    return _response(400, detail, errors)


_UNENCODED_OFFSET = re.compile(r"\d \d\d(:?\d\d)?$")
OFFSET_HINT = "a '+' in a URL query is a space: write the UTC offset as Z, or percent-encode '+' as %2B"


def http_error(request: Request, exc: Exception) -> Response[ErrorOut]:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 500:  # Litestar raises InternalServerException for its own failures
        return _server_error(request, exc, exc.detail)
    return _response(exc.status_code, exc.detail, headers=dict(exc.headers or {}))


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    DriftlineError: driftline_error,
    UnknownMethodError: driftline_error,
    ValidationException: litestar_validation,
    HTTPException: http_error,
    Exception: unexpected,
}
