"""The one outbound-URL policy for URLs a tenant configures (a provider's `base_url`, the
workspace's `rocketchat_url`), so that a workspace admin cannot use the server to reach what
only the server can reach (cloud metadata, loopback admin ports, the cluster network).

Two checks. When the URL is stored (`check_url`): http(s) only (https only in production unless
`UTP_OUTBOUND_ALLOW_HTTP`), no credentials, query or fragment, and a host that is either a
name or an IP address written canonically (`0x7f000001`, `127.1`, `2130706433` and `0177.0.0.1`
all mean 127.0.0.1 to the resolver, so they are refused, not interpreted). When connecting
(`PolicyResolver`, the resolver of the tenant-facing `OutboundClient`): every address the name
resolves to is checked, so a name that resolves to 127.0.0.1, or starts to after it was
stored, is refused where it matters, and the connection goes to the address that was checked.

Refused in production: loopback, private, link-local (169.254.169.254), shared (100.64/10),
unspecified, multicast, reserved, and IPv6 forms that embed an IPv4 address (IPv4-mapped,
NAT64, 6to4, Teredo) are judged by that address. An operator allows an on-premises Rocket.Chat
with `UTP_OUTBOUND_ALLOWED_NETWORKS` (CIDRs). Outside production every address is allowed
(development talks to loopback servers).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from service.errors import ValidationFailed
from service.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS: Final = 500
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_SHARED: Final = ipaddress.ip_network("100.64.0.0/10")
# A host whose last label is a number, or that has a hex label, is an IPv4 address in one of
# the spellings inet_aton accepts; only the canonical dotted quad is let through.
_NUMERIC_HOST: Final = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)(?:\.(?:[0-9]+|0x[0-9a-f]*))*\.?$")


class AddressRefused(OSError):
    """The outbound policy refuses this address (raised at connect time)."""


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """What tenant-configured URLs may point at. `enforce` is on in production."""

    enforce: bool = False
    allow_http: bool = True
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def build(
        cls, *, production: bool, allow_http: bool, allowed_networks: tuple[str, ...]
    ) -> OutboundPolicy:
        return cls(
            enforce=production,
            allow_http=allow_http or not production,
            allowed_networks=tuple(parse_networks(allowed_networks)),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls.build(
            production=settings.is_production,
            allow_http=settings.security.outbound_allow_http,
            allowed_networks=settings.security.outbound_allowed_networks,
        )

    def allows(self, address: IPAddress) -> bool:
        if not self.enforce:
            return True
        if any(address in network for network in self.allowed_networks):
            return True
        return _public(address)

    def check_url(self, url: str, field: str) -> str:
        """The URL as stored (trailing `/` removed), or `ValidationFailed` naming `field`."""
        url = url.strip().rstrip("/")
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise _bad(field, "must be an http(s) URL with a valid host and port") from None
        schemes = ("http", "https") if self.allow_http else ("https",)
        if parts.scheme not in schemes or not host:
            wanted = "an http(s)" if self.allow_http else "an https"
            raise _bad(field, f"must be {wanted} URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise _bad(field, "no credentials, query or fragment in the URL")
        if len(url) > MAX_URL_CHARS or any(ord(c) < 33 or c == "\x7f" for c in url):
            raise _bad(field, f"at most {MAX_URL_CHARS} characters, without spaces or controls")
        address = literal_address(host)
        if address is None and _NUMERIC_HOST.match(host.lower()):
            raise _bad(field, "write an IPv4 address as four decimal numbers (a.b.c.d)")
        if self.enforce:
            lowered = host.lower().rstrip(".")
            internal = lowered == "localhost" or lowered.endswith(
                (".localhost", ".local", ".internal")
            )
            if (address is not None and not self.allows(address)) or (
                internal and address is None and not self.allowed_networks
            ):
                raise _bad(field, "must name a public host (this address is not reachable)")
        return url


class PolicyResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host when any address it resolves to is refused."""

    def __init__(
        self,
        policy: OutboundPolicy,
        inner: AbstractResolver | None = None,
        *,
        trusted: frozenset[str] = frozenset(),
    ) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()
        # The operator's proxies (HTTPS_PROXY, ...): connecting to them is not the tenant's doing,
        # and the target behind them is checked before the request (OutboundClient._admit).
        self._trusted = trusted

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._trusted:
            return results
        for result in results:
            check_address(self._policy, result["host"], host)
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_address(policy: OutboundPolicy, address: str, name: str) -> None:
    """Raise `AddressRefused` when `policy` refuses `address` (what `name` resolved to)."""
    parsed = literal_address(address)
    if parsed is None or not policy.allows(parsed):
        raise AddressRefused(f"{name}: the outbound policy refuses this address")


def literal_address(host: str) -> IPAddress | None:
    """The address when `host` is an IP literal in canonical form, else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def parse_networks(values: tuple[str, ...]) -> list[Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"not a network in CIDR notation: {value!r}") from None
    return networks


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(embedded)
    if address in _SHARED:
        return False
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
    )


def _bad(field: str, why: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {why}", details={"field": field})
