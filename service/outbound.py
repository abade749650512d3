"""The service's outbound HTTP client: one small API over one aiohttp connection pool.

Everything the service calls over HTTP (translation providers, Rocket.Chat) goes through
`OutboundClient.request`: it sends one request, never follows a redirect, reads the whole reply
(decompressed) and returns it as an `OutboundResponse`. A request that gets no HTTP reply raises
an `OutboundError`: `OutboundTimeout` when its deadline passed, `OutboundInvalidURL` when the URL
can never work (a configuration problem, not worth retrying).

Why not httpx: its client machinery (URL merging, cookie extraction, auth and redirect hooks,
its models) cost more CPU than the connection itself, and httpcore's pool walks every pooled
connection on every request. Measured in-process, one call against a zero-latency loopback fake
costs 0.27 ms of CPU through httpx over aiohttp and 0.11 ms here (bench/README.md, fourth round).

Tenant-configured URLs (a workspace's provider `base_url`, its `rocketchat_url`) go through a
client built with an `OutboundPolicy` (`service/netpolicy.py`): every address is checked when
connecting, and a refused one raises `OutboundRefused` before a byte is sent.

Proxies: `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` are read once when the client is created and
resolved once per host (aiohttp's own `trust_env` re-reads them on every request, which
tripled the cost of a call).
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import socket
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any, Final

import aiohttp
from yarl import URL

from service.netpolicy import AddressRefused, OutboundPolicy, PolicyResolver, check_address

USER_AGENT: Final = "universal-translator-pro"
_JSON_HEADERS: Final = {"Content-Type": "application/json"}


class OutboundError(Exception):
    """A request that got no HTTP reply: refused, reset, cut short or malformed."""


class OutboundTimeout(OutboundError):
    """No complete reply within the request's timeout."""


class OutboundInvalidURL(OutboundError):
    """A URL that can never work: unparsable, or not http/https."""


class OutboundRefused(OutboundInvalidURL):
    """The outbound policy refuses the address the URL leads to (a configuration problem)."""


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    """A complete HTTP reply; `headers` are case-insensitive."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    content: bytes
    charset: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded JSON body; `ValueError` when it is not JSON."""
        return jsonlib.loads(self.content)


class OutboundClient:
    """A pool of keep-alive connections shared by every outbound call of the process.

    The aiohttp session is created on first use (it belongs to the running event loop) and
    closed by `aclose()`. `timeout` is each request's default deadline in seconds, covering
    the wait for a pooled connection, connecting, sending and reading the whole reply.
    """

    def __init__(
        self,
        timeout: float,
        *,
        max_connections: int = 200,
        keepalive_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        environ_proxies: Mapping[str, str] | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self._policy = policy if policy is not None and policy.enforce else None
        self._timeout = timeout
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._proxies = dict(
            urllib.request.getproxies_environment() if environ_proxies is None else environ_proxies
        )
        self._proxy_for: dict[tuple[str, str], str | None] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> OutboundClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - aiohttp's deadline covers the pool wait
    ) -> OutboundResponse:
        """Send one request (a JSON body when `json` is not None) and read the whole reply."""
        target = _parse(url)
        proxy = self._proxy(target)
        if self._policy is not None:
            await self._admit(target, proxy)
        if json is not None:
            body: bytes | None = jsonlib.dumps(json, ensure_ascii=False).encode()
            headers = _JSON_HEADERS if headers is None else {**_JSON_HEADERS, **headers}
        else:
            body = None
        try:
            async with self._session_now().request(
                method,
                target,
                params=params,
                data=body,
                headers=headers,
                allow_redirects=False,
                proxy=proxy,
                timeout=_timeout(self._timeout if timeout is None else timeout),
            ) as response:
                content = await response.read()
                return OutboundResponse(
                    response.status, response.headers, content, response.charset
                )
        except TimeoutError as exc:  # aiohttp's timeouts subclass it
            raise OutboundTimeout(_why(exc, "timed out")) from exc
        except aiohttp.InvalidURL as exc:
            raise OutboundInvalidURL(_why(exc, "invalid URL")) from exc
        except (aiohttp.ClientError, OSError) as exc:
            refused = _refusal(exc)
            if refused is not None:
                raise OutboundRefused(str(refused)) from None
            raise OutboundError(_why(exc, "connection failed")) from exc
        except ValueError as exc:  # a header aiohttp will not send (CR/LF in a value)
            raise OutboundInvalidURL(f"invalid request: {type(exc).__name__}") from None

    async def _admit(self, target: URL, proxy: str | None) -> None:
        """Checks the resolver cannot make: IP literals (aiohttp does not resolve them) and,
        through a proxy (which resolves the name itself), the target's addresses now."""
        assert self._policy is not None
        host = target.raw_host or ""
        try:
            if proxy is None:
                if _is_ip(host):
                    check_address(self._policy, host, host)
                return
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, target.port, type=socket.SOCK_STREAM
            )
            for *_, sockaddr in infos:
                check_address(self._policy, str(sockaddr[0]), host)
        except AddressRefused as exc:
            raise OutboundRefused(str(exc)) from None
        except OSError as exc:
            raise OutboundError(_why(exc, "name resolution failed")) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_seconds,
                ssl=self._ssl,
                resolver=None
                if self._policy is None
                else PolicyResolver(self._policy, trusted=self._proxy_hosts()),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                # No call of ours relies on cookies; skipping the jar skips its bookkeeping.
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    def _proxy_hosts(self) -> frozenset[str]:
        hosts = set()
        for scheme in ("http", "https"):
            proxy = self._proxies.get(scheme)
            if proxy:
                with contextlib.suppress(ValueError):
                    hosts.add((URL(proxy).host or "").lower())
        return frozenset(hosts - {""})

    def _proxy(self, url: URL) -> str | None:
        key = (url.scheme, url.host or "")
        if key not in self._proxy_for:
            proxy = self._proxies.get(url.scheme)
            if proxy and _bypassed(key[1], self._proxies.get("no", "")):
                proxy = None
            self._proxy_for[key] = proxy or None
        return self._proxy_for[key]


@lru_cache(maxsize=256)
def _parse(url: str) -> URL:
    """The parsed URL (providers call a handful of URLs, so parsing is remembered)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise OutboundInvalidURL(f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundInvalidURL(f"unsupported URL {url!r}: use http:// or https:// and a host")
    return parsed


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.strip("[]"))
    except OSError:
        return False
    return True


def _refusal(exc: BaseException) -> AddressRefused | None:
    """The policy's refusal behind an aiohttp connection error, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, AddressRefused):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return None


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether `NO_PROXY` exempts `host`: `*`, the host itself, or a domain it is under
    (`example.com` and `.example.com` both cover `api.example.com`), as curl reads it."""
    host = host.lower().rstrip(".")
    for entry in no_proxy.lower().replace(" ", "").split(","):
        domain = entry.lstrip(".").rstrip(".")
        if entry == "*" or (domain and (host == domain or host.endswith("." + domain))):
            return True
    return False


@lru_cache(maxsize=32)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


def _why(exc: BaseException, fallback: str) -> str:
    return str(exc) or f"{fallback} ({type(exc).__name__})"
