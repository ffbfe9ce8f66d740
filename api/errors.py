"""Domain errors → HTTP statuses, in one place."""

from __future__ import annotations

from typing import Any

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


def _response(status: int, detail: str, errors: list[RowError] | None = None) -> Response[ErrorOut]:
    body = ErrorOut(status_code=status, detail=detail,
                    errors=[RowErrorOut(e.row, e.field, e.reason) for e in errors or ()])
    return Response(body, status_code=status, media_type=MediaType.JSON)


def driftline_error(_: Request, exc: Exception) -> Response[ErrorOut]:
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
        return _response(503, str(exc))
    if isinstance(exc, UnknownMethodError):
        return _response(422, str(exc))
    return _response(500, f"{type(exc).__name__}: {exc}")


def litestar_validation(_: Request, exc: Exception) -> Response[ErrorOut]:
    assert isinstance(exc, ValidationException)
    errors = [
        RowError(None, str(e.get("key") or e.get("source") or "body"), str(e.get("message")))
        for e in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(e, dict)
    ]
    return _response(400, exc.detail, errors)


def http_error(_: Request, exc: Exception) -> Response[ErrorOut]:
    assert isinstance(exc, HTTPException)
    return _response(exc.status_code, exc.detail)


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    DriftlineError: driftline_error,
    UnknownMethodError: driftline_error,
    ValidationException: litestar_validation,
    HTTPException: http_error,
}
