"""One error envelope for every 4xx/5xx: {"error": {code, message, details?, request_id}}."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError

from service.api.schemas import NON_BLANK
from service.db.role import read_only_region, refuses_writes
from service.errors import ServiceError

log = logging.getLogger(__name__)


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def envelope(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    error["request_id"] = request_id_of(request)
    return Response({"error": error}, status_code=status, headers=headers)


def service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[dict[str, Any]]:
    return envelope(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)


_CODES = {
    NotFoundException: "not_found",
    MethodNotAllowedException: "method_not_allowed",
    NotAuthorizedException: "unauthorized",
    PermissionDeniedException: "forbidden",
}


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        return _validation(request, exc)
    code = next((c for t, c in _CODES.items() if isinstance(exc, t)), None)
    if code is None:
        if exc.status_code == 400:
            # Litestar raises a bare 400 when the body cannot be decoded at all.
            return envelope(
                request, 400, "malformed_body", f"the request body is not valid JSON: {exc.detail}"
            )
        code = {413: "payload_too_large", 415: "unsupported_media_type"}.get(
            exc.status_code, "http_error"
        )
    if exc.status_code >= 500:
        log.error("server error: %s", exc.detail)
    return envelope(request, exc.status_code, code, exc.detail, headers=exc.headers)


def _validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else None
    problems = [
        {"field": _field(e), "message": str(e.get("message", ""))}
        for e in (extra or [])
        if isinstance(e, dict)
    ]
    blank = [
        p
        for p in problems
        if p["message"] == _BLANK and (p["field"] == "text" or p["field"].startswith("texts["))
    ]
    if blank and len(blank) == len(problems):
        # A text of nothing but white space (schemas.NON_BLANK), as the API has always said it.
        field = blank[0]["field"]
        return envelope(
            request, 422, "empty_text", f"{field}: must not be empty", details={"field": field}
        )
    message = "; ".join(
        f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems
    )
    return envelope(
        request,
        422,
        "validation_error",
        message or exc.detail,
        details=problems or None,
    )


_BLANK = f"Expected `str` matching regex {NON_BLANK!r}"


def _field(error: dict[str, Any]) -> str:
    key = str(error.get("key") or "")
    # msgspec reports paths like "$.texts[0]" in the message; keep the field readable.
    return key.removeprefix("$.").removeprefix("data").strip(".")


def unhandled(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.scope.get("path_template"))
    return envelope(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "internal server error"
    )


def database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """A write the database refused as read-only (a replica) is the region's 503, not a 500."""
    if refuses_writes(exc):
        return service_error(request, read_only_region())
    return unhandled(request, exc)


HANDLERS: dict[Any, Any] = {
    ServiceError: service_error,
    HTTPException: http_error,
    DBAPIError: database_error,
    Exception: unhandled,
}
