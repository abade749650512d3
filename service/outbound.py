"""The service's outbound HTTP client: httpx's API over aiohttp's connection pool.

Providers, the Rocket.Chat identity check and the rest of the service speak httpx (its request
and response types, its exceptions, its redirect and proxy handling). Only the transport is
aiohttp's, because httpcore's pool does not scale with connections in flight: every request
start and end walks every pooled connection (`has_expired()` -> a `select` per socket) under
one lock. Measured against a 50 ms loopback provider (bench/README.md, third round): 40
concurrent calls on warm keep-alive connections took 74-140 ms with httpcore and 52-55 ms with
this transport, and one call's client overhead fell from 1.3 to 0.7 ms.

The transport keeps httpx's contract: it never follows redirects (httpx does, when asked),
leaves the body encoded (httpx decodes `Content-Encoding`), applies httpx's per-request
timeouts, and raises httpx's exception types, so callers cannot tell the difference.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Final

import aiohttp
import httpx
from yarl import URL

# Headers aiohttp would otherwise add on its own: the request carries httpx's (or none).
_AUTO_HEADERS: Final = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
# Framing is aiohttp's job: it sets Content-Length for the body it sends.
_FRAMING: Final = frozenset({"content-length", "transfer-encoding"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends through one `aiohttp.ClientSession`.

    The session is created on first use (it belongs to the running event loop) and closed
    by `aclose()`, which `httpx.AsyncClient.aclose()` calls.
    """

    def __init__(
        self,
        *,
        max_connections: int = 200,
        keepalive_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_seconds,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=_AUTO_HEADERS,
                # httpx has already applied the environment's proxy settings.
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"unsupported URL scheme {request.url.scheme!r}: use http or https",
                request=request,
            )
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _FRAMING]
        try:
            async with self._session_now().request(
                request.method,
                # encoded=True: httpx has already percent-encoded the URL; do not do it twice.
                URL(str(request.url), encoded=True),
                data=body or None,
                headers=headers,
                allow_redirects=False,
                timeout=_timeout(request.extensions.get("timeout", {})),
            ) as response:
                content = await response.read()
                return httpx.Response(
                    response.status,
                    headers=list(response.raw_headers),
                    stream=httpx.ByteStream(content),
                    extensions={"http_version": _version(response.version)},
                    request=request,
                )
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(_why(exc, "connect timed out"), request=request) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise httpx.ReadTimeout(_why(exc, "read timed out"), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(_why(exc, "connection failed"), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(_why(exc, "bad reply"), request=request) from exc
        except aiohttp.ClientResponseError as exc:  # a malformed status line or headers
            raise httpx.RemoteProtocolError(_why(exc, "bad reply"), request=request) from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.UnsupportedProtocol(_why(exc, "invalid URL"), request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.NetworkError(_why(exc, "network error"), request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def outbound_client(timeout: float, *, max_connections: int = 200) -> httpx.AsyncClient:
    """The httpx client the service uses for every outbound call."""
    return httpx.AsyncClient(
        timeout=timeout, transport=AiohttpTransport(max_connections=max_connections)
    )


def _timeout(values: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    """httpx's four timeouts as aiohttp's: waiting for a pooled connection and connecting
    share `connect`; `read` bounds each wait for data. (aiohttp has no write timeout.)"""
    pool, connect = values.get("pool"), values.get("connect")
    acquire = None if pool is None or connect is None else pool + connect
    return aiohttp.ClientTimeout(
        total=None, connect=acquire, sock_connect=connect, sock_read=values.get("read")
    )


def _version(version: aiohttp.HttpVersion | None) -> bytes:
    if version is None:
        return b"HTTP/1.1"
    return f"HTTP/{version.major}.{version.minor}".encode()


def _why(exc: BaseException, fallback: str) -> str:
    return str(exc) or f"{fallback} ({type(exc).__name__})"
