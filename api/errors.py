"""Domain errors → HTTP statuses, in one place. Every 500 leaves its traceback in the server log (logger
`driftline.api`); other statuses are the client's business and are not logged here."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from api.schemas import ErrorOut, RowErrorOut
from engine.algorithms.registry import UnknownMethodError
from engine.errors import (
    ConflictError,
    DriftlineError,
    MalformedBodyError,
    NotFoundError,
    RowError,
    StoreUnavailableError,
    ValidationError,
)

log = logging.getLogger("driftline.api")


def _response(status: int, detail: str, errors: list[RowError] | None = None) -> Response[ErrorOut]:
    body = ErrorOut(status_code=status, detail=detail,
                    errors=[RowErrorOut(e.row, e.field, e.reason) for e in errors or ()])
    return Response(body, status_code=status, media_type=MediaType.JSON)


def driftline_error(request: Request, exc: Exception) -> Response[ErrorOut]:
    if isinstance(exc, MalformedBodyError):
        return _response(400, str(exc), exc.errors)
    if isinstance(exc, ValidationError):
        return _response(422, str(exc), exc.errors)
    if isinstance(exc, NotFoundError):
        return _response(404, str(exc))
    if isinstance(exc, ConflictError):
        return _response(409, str(exc))
    if isinstance(exc, StoreUnavailableError):
        return _response(503, str(exc))
    if isinstance(exc, UnknownMethodError):
        return _response(422, str(exc))
    return _server_error(request, exc, f"{type(exc).__name__}: {exc}")


def _server_error(request: Request, exc: Exception, detail: str) -> Response[ErrorOut]:
    log.error("%s %s answered 500", request.method, request.url.path, exc_info=exc)
    return _response(500, detail)


def unhandled_error(request: Request, exc: Exception) -> Response[ErrorOut]:
    """Anything no other handler claims: a bug or an unmapped driver error. The body says nothing of the
    internals (as Litestar's own 500); the log has the traceback."""
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
    return _response(exc.status_code, exc.detail)


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    DriftlineError: driftline_error,
    UnknownMethodError: driftline_error,
    ValidationException: litestar_validation,
    HTTPException: http_error,
    Exception: unhandled_error,
}
