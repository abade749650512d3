"""The service as its users see it, summarised as healthy/degraded/down.

Run by `utp health-check` and by the health gate of `utp-infra deploy`/`rollback`.

Exit codes: 0 healthy, 1 degraded (serving, something impaired), 2 down (cannot serve).
Down means one of: the process does not answer, the database is unreachable (new API keys
cannot be verified, pods go unready), no translation provider is usable, or a real
translation round trip fails. Redis, a single provider, or a stale backup only degrade.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from prometheus_client import CollectorRegistry, Gauge, generate_latest

Status = Literal["ok", "degraded", "down", "skipped"]
EXIT_CODES = {"ok": 0, "degraded": 1, "down": 2}
CRITICAL = frozenset({"live", "database", "providers", "translation"})
# utp_provider_breaker_state: 0 closed, 1 half-open, 2 open, 3 parked (terminal error).
BREAKER: dict[int, tuple[Status, str]] = {
    0: ("ok", "closed"),
    1: ("degraded", "half-open"),
    2: ("degraded", "open"),
}
REDIS_STATUS: dict[str, Status] = {"ok": "ok", "disabled": "skipped"}
BREAKER_LINE = re.compile(r'^utp_provider_breaker_state\{provider="([^"]+)"\}\s+([0-9.eE+-]+)$')


@dataclass
class Component:
    name: str
    status: Status
    duration_ms: float = 0.0
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class HealthReport:
    url: str
    checked_at: datetime
    components: list[Component]
    duration_ms: float
    backup_completed_at: datetime | None = None

    @property
    def status(self) -> Literal["ok", "degraded", "down"]:
        if any(c.status == "down" and c.name in CRITICAL for c in self.components):
            return "down"
        if any(c.status in ("down", "degraded") for c in self.components):
            return "degraded"
        return "ok"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


@dataclass(frozen=True, kw_only=True)
class CheckOptions:
    timeout: float = 5.0
    retries: int = 2
    api_key: str = ""
    # None: skip the backup age check.
    newest_backup: Callable[[], datetime | None] | None = None
    max_backup_age_seconds: float = 26 * 3600
    # When set, the service must report this release (its image tag), or it is degraded:
    # during a rollout the old release still answers healthy.
    expected_release: str | None = None


class _Http:
    def __init__(self, client: httpx.Client, retries: int) -> None:
        self.client, self.retries = client, retries

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
        """Retries transport failures only: an HTTP answer, even a 503, is the finding."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                response = self.client.request(method, path, **kwargs)
                return response, (time.perf_counter() - started) * 1000
            except httpx.TransportError as exc:
                last = exc
                if attempt < self.retries:
                    time.sleep(min(0.25 * 2**attempt, 2.0))
        assert last is not None
        raise last


def run_check(url: str, options: CheckOptions, client: httpx.Client | None = None) -> HealthReport:
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    own = client is None
    http_client = client or httpx.Client(base_url=url.rstrip("/"), timeout=options.timeout)
    http = _Http(http_client, options.retries)
    components: list[Component] = []
    try:
        live = _live(http)
        components.append(live)
        if options.expected_release is not None and live.status != "down":
            components.append(_release(live, options.expected_release))
        if live.status == "down":
            for name in ("database", "redis", "providers", "translation"):
                components.append(Component(name, "down", detail="service unreachable"))
        else:
            components.extend(_ready(http))
            components.append(_translation(http, options.api_key))
    finally:
        if own:
            http_client.close()
    backup_at: datetime | None = None
    if options.newest_backup is not None:
        backup, backup_at = _backup(options.newest_backup, options.max_backup_age_seconds)
        components.append(backup)
    else:
        components.append(Component("backup", "skipped", detail="no backup store configured"))
    return HealthReport(
        url=url,
        checked_at=checked_at,
        components=components,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        backup_completed_at=backup_at,
    )


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _live(http: _Http) -> Component:
    try:
        response, ms = http.request("GET", "/health/live")
    except httpx.HTTPError as exc:
        return Component("live", "down", detail=_error(exc))
    if response.status_code != 200:
        return Component("live", "down", round(ms, 2), f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    running = (
        {k: str(body[k]) for k in ("version", "release") if k in body}
        if isinstance(body, dict)
        else {}
    )
    return Component("live", "ok", round(ms, 2), data=running)


def _release(live: Component, expected: str) -> Component:
    serving = live.data.get("release")
    if serving == expected:
        return Component("release", "ok", detail=f"serving {expected}")
    return Component(
        "release", "degraded", detail=f"serving {serving or 'an unknown release'}, not {expected}"
    )


def _ready(http: _Http) -> list[Component]:
    try:
        response, ms = http.request("GET", "/health/ready")
        body = response.json()
        checks: dict[str, Any] = body["checks"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return [Component("ready", "down", detail=f"no readiness report: {_error(exc)}")]
    out = [
        Component(
            "ready",
            "ok" if response.status_code == 200 else "degraded",
            round(ms, 2),
            "" if response.status_code == 200 else f"HTTP {response.status_code}",
        )
    ]
    database = checks.get("database", {})
    # A replica (the DR region before promotion) serves translations: no failure, just said.
    role = body.get("role")
    out.append(
        Component(
            "database",
            "ok" if database.get("status") == "ok" else "down",
            float(database.get("duration_ms", 0.0)),
            str(database.get("error", ""))
            or ("replica: read-only until promoted" if role == "replica" else ""),
            {"role": role} if isinstance(role, str) else {},
        )
    )
    redis = checks.get("redis", {})
    redis_status = redis.get("status")
    out.append(
        Component(
            "redis",
            "ok"
            if redis_status == "ok"
            else "skipped"
            if redis_status == "disabled"
            else "degraded",
            float(redis.get("duration_ms", 0.0)),
            "not configured" if redis_status == "disabled" else str(redis.get("error", "")),
        )
    )
    out.extend(_providers(http, list(checks.get("providers", {}).get("enabled", []))))
    return out


def _providers(http: _Http, enabled: list[str]) -> list[Component]:
    """Availability from the service's own circuit breakers: no provider is called (no cost)."""
    if not enabled:
        return [Component("providers", "down", detail="no translation provider is enabled")]
    states: dict[str, float] = {}
    ms = 0.0
    try:
        response, ms = http.request("GET", "/metrics")
        for line in response.text.splitlines():
            match = BREAKER_LINE.match(line)
            if match:
                states[match.group(1)] = float(match.group(2))
    except httpx.HTTPError:
        pass  # breaker states unknown: the providers are enabled, report them as such
    out: list[Component] = []
    usable = 0
    for name in enabled:
        state = int(states.get(name, 0))
        status, word = BREAKER.get(state, ("degraded", "parked after a terminal error"))
        usable += status == "ok" or state == 1
        out.append(Component(f"provider:{name}", status, detail=f"breaker {word}"))
    summary = Component(
        "providers",
        "ok" if usable == len(enabled) else "degraded" if usable else "down",
        round(ms, 2),
        f"{usable} of {len(enabled)} usable",
        {"enabled": enabled},
    )
    return [summary, *out]


def _translation(http: _Http, api_key: str) -> Component:
    if not api_key:
        return Component("translation", "skipped", detail="no UTP_HEALTH_CHECK_API_KEY")
    # The economy tier starts with the free engines, and repeats are cache hits: no spend.
    body = {
        "text": "Good morning",
        "source_lang": "en",
        "target_lang": "es",
        "quality_tier": "economy",
    }
    try:
        response, ms = http.request(
            "POST", "/api/v1/translate", json=body, headers={"X-API-Key": api_key}
        )
    except httpx.HTTPError as exc:
        return Component("translation", "down", detail=_error(exc))
    if response.status_code != 200:
        code = ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            code = str(response.json()["error"]["code"])
        return Component(
            "translation", "down", round(ms, 2), f"HTTP {response.status_code} {code}".strip()
        )
    result = response.json()
    text = str(result.get("translated_text", ""))
    if not text:
        return Component("translation", "down", round(ms, 2), "empty translation")
    return Component(
        "translation",
        "ok",
        round(ms, 2),
        f"{result.get('provider')} cached={result.get('cached')}",
        {"provider": result.get("provider"), "cached": result.get("cached")},
    )


def _backup(
    newest: Callable[[], datetime | None], max_age: float
) -> tuple[Component, datetime | None]:
    started = time.perf_counter()
    try:
        when = newest()
    except Exception as exc:  # any store failure is a finding, not a crash
        return Component("backup", "degraded", detail=f"cannot read backups: {exc}"), None
    ms = round((time.perf_counter() - started) * 1000, 2)
    if when is None:
        return Component("backup", "degraded", ms, "no complete backup found"), None
    age = (datetime.now(UTC) - when).total_seconds()
    status: Status = "ok" if age <= max_age else "degraded"
    detail = f"newest complete backup {age / 3600:.1f} h old"
    if status != "ok":
        detail += f" (limit {max_age / 3600:.1f} h)"
    return Component("backup", status, ms, detail, {"age_seconds": round(age)}), when


# -- rendering --------------------------------------------------------------------------------


def render_text(report: HealthReport, *, verbose: bool = False) -> str:
    lines = [
        f"UTP health: {report.status.upper()} (exit {report.exit_code}) - {report.url} - "
        f"{report.checked_at:%Y-%m-%dT%H:%M:%SZ} - {report.duration_ms:.0f} ms"
    ]
    for c in report.components:
        if c.name.startswith("provider:") and not verbose and c.status == "ok":
            continue
        line = f"  {c.name:<22} {c.status:<9} {c.duration_ms:>8.1f} ms"
        if c.detail and (verbose or c.status != "ok"):
            line += f"  {c.detail}"
        lines.append(line)
        if verbose and c.data:
            lines.append(f"  {'':<22} {c.data}")
    return "\n".join(lines)


def render_json(report: HealthReport) -> dict[str, Any]:
    return {
        "status": report.status,
        "exit_code": report.exit_code,
        "url": report.url,
        "checked_at": report.checked_at.isoformat(),
        "duration_ms": report.duration_ms,
        "components": {
            c.name: {
                "status": c.status,
                "duration_ms": c.duration_ms,
                **({"detail": c.detail} if c.detail else {}),
                **c.data,
            }
            for c in report.components
        },
    }


def render_prometheus(report: HealthReport) -> str:
    registry = CollectorRegistry()
    Gauge(
        "utp_health_status",
        "Overall health from utp health-check: 0 healthy, 1 degraded, 2 down.",
        registry=registry,
    ).set(report.exit_code)
    up = Gauge(
        "utp_health_component_up",
        "1 when the component is ok, 0 when degraded or down (skipped ones are absent).",
        ["component"],
        registry=registry,
    )
    seconds = Gauge(
        "utp_health_check_duration_seconds",
        "Time the component's check took.",
        ["component"],
        registry=registry,
    )
    for c in report.components:
        if c.status == "skipped":
            continue
        up.labels(component=c.name).set(1 if c.status == "ok" else 0)
        seconds.labels(component=c.name).set(c.duration_ms / 1000)
    if report.backup_completed_at is not None:
        Gauge(
            "utp_backup_last_success_timestamp_seconds",
            "Unix time the newest complete backup (any type) finished.",
            registry=registry,
        ).set(report.backup_completed_at.timestamp())
    return generate_latest(registry).decode()
