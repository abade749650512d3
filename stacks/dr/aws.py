"""Reaching each region's AWS APIs, and telling "that region is down" from every other error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# (service, region) -> a boto3 client. Tests pass moto-backed clients through the same door.
ClientFactory = Callable[[str, str], Any]

# What a region that is gone looks like from outside: no connection, or no answer in time.
_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)
# The API answered, but the region's service is failing: as good as unreachable for us.
_REGION_FAILING = {"ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout"}


class RegionUnreachable(Exception):
    """`region`'s APIs do not answer (a regional outage): the step cannot act there now."""

    def __init__(self, region: str, cause: Exception) -> None:
        super().__init__(f"{region} APIs unreachable: {cause}")
        self.region = region


def default_factory() -> ClientFactory:
    """boto3 clients with short timeouts and few retries: during an outage a call to the lost
    region must fail in seconds, not hang for the SDK's default minutes."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})
    # A session of its own: boto3's default session keeps the first credentials it resolved,
    # so a long-lived process would go on using credentials the operator has since changed.
    session = boto3.session.Session()

    def make(service: str, region: str) -> Any:
        return session.client(service, region_name=region, config=config)

    return make


class Clients:
    """One client per (service, region), made on first use; `call` maps outage errors."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._made: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._made:
            self._made[key] = self._factory(service, region)
        return self._made[key]

    def call(
        self, service: str, region: str, method: str, *, where: str = "", **kwargs: Any
    ) -> Any:
        """`client.method(**kwargs)`; raises RegionUnreachable (named `where`, default the
        region) when the endpoint does not answer."""
        try:
            return getattr(self.client(service, region), method)(**kwargs)
        except _UNREACHABLE as exc:
            raise RegionUnreachable(where or region, exc) from exc
        except ClientError as exc:
            if error_code(exc) in _REGION_FAILING:
                raise RegionUnreachable(where or region, exc) from exc
            raise


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
