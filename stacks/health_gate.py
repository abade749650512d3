"""The release's health gate probe: the deployed service as its users see it."""

from __future__ import annotations

from ops_common.healthcheck import CheckOptions, HealthReport, run_check
from stacks.release import HealthProbe


def http_health_probe(url: str, *, api_key: str = "", timeout: float = 5.0) -> HealthProbe:
    """The gate's probe: `utp health-check` against the deployed service (no backup age),
    degraded until the service reports the release just deployed."""

    def probe(release: str) -> HealthReport:
        options = CheckOptions(
            timeout=timeout, retries=1, api_key=api_key, expected_release=release
        )
        return run_check(url, options)

    return probe
