"""Liveness, readiness and the Prometheus scrape endpoint (public unless `UTP_METRICS_TOKEN`
is set; the exposition carries no tenant identifiers either way)."""

from __future__ import annotations

import hmac
import time
from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from service import __version__
from service.container import Services
from service.errors import Unauthorized
from service.observability import metrics
from service.settings import Settings


@get("/health/live", summary="The process is up", tags=["health"])
async def live(services: Services) -> dict[str, str]:
    return {"status": "ok", **running(services.settings)}


def running(settings: Settings) -> dict[str, str]:
    """What this process runs: the package version and the deployed release (image tag)."""
    return {"version": __version__, "release": settings.server.release or __version__}


@get("/health/ready", summary="Database and cache reachable; the database's role", tags=["health"])
async def ready(services: Services) -> Response[dict[str, Any]]:
    """Checks our own dependencies only: no provider is called, so probes cost nothing.

    503 when the database is unreachable or no provider is enabled; 200 with status
    "degraded" when only Redis is down. `role` is "replica" while the database is a read-only
    replica (the DR region before promotion): still ready, since translations are served, so
    Route 53 may send traffic here; writes are answered 503 `read_only_region` meanwhile.
    """
    checks: dict[str, dict[str, Any]] = {}
    role = services.database_role
    started = time.perf_counter()
    try:
        checks["database"] = {"status": "ok", "role": await role.check()}
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        checks["database"] = {"status": "down", "error": type(exc).__name__}
    checks["database"]["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)

    cache = services.cache
    started = time.perf_counter()
    if cache.redis_enabled:
        up = await cache.ping_redis()
        checks["redis"] = {"status": "ok" if up else "down"}
    else:
        checks["redis"] = {"status": "disabled"}
    checks["redis"]["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)

    providers = services.engine.router
    checks["providers"] = {
        "status": "ok" if providers.providers else "down",
        "enabled": [p.name for p in providers.providers],
    }
    # Redis down degrades (in-process cache only) but the pod still serves: taking every pod
    # out of the load balancer for it would turn a slower service into no service.
    ready = checks["database"]["status"] == "ok" and checks["providers"]["status"] == "ok"
    degraded = checks["redis"]["status"] == "down"
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    return Response(
        {
            "status": status,
            "role": role.role,
            **running(services.settings),
            "checks": checks,
        },
        status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE,
    )


@get("/metrics", summary="Prometheus metrics", tags=["health"], include_in_schema=False)
async def prometheus(request: Request[Any, Any, Any], services: Services) -> Response[bytes]:
    token = services.settings.security.metrics_token.get()
    if token:
        presented = request.headers.get("authorization", "")
        if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            raise Unauthorized(
                "/metrics needs the scrape credential: Authorization: Bearer <UTP_METRICS_TOKEN>",
                code="invalid_metrics_token",
            )
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
