"""One exception hierarchy for the service; `api/errors.py` maps it onto the error envelope."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error a client can be told about: an HTTP status, a stable code and a message."""

    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}


class ValidationFailed(ServiceError):
    status_code = 422
    code = "validation_error"


class BadRequest(ServiceError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """A well-formed request that the current state does not allow (a provider the workspace
    has not enabled, a key that must be given before a provider is configured)."""

    status_code = 409
    code = "conflict"


class BudgetExceeded(ServiceError):
    """A hard spending limit would be crossed; nothing was spent."""

    status_code = 402
    code = "budget_exceeded"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(ServiceError):
    status_code = 429
    code = "rate_limited"


class UnsupportedPair(ServiceError):
    status_code = 422
    code = "unsupported_language_pair"


class TranslationUnavailable(ServiceError):
    """Every provider that could serve the request failed or is unavailable."""

    status_code = 503
    code = "translation_unavailable"


class ServiceUnavailable(ServiceError):
    """Something the request cannot do without (the database) is unreachable: retry later."""

    status_code = 503
    code = "service_unavailable"


class ReadOnlyRegion(ServiceError):
    """A write while this region's database is a read-only replica (DR before promotion)."""

    status_code = 503
    code = "read_only_region"
