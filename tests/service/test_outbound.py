"""The outbound client against a loopback server that speaks raw HTTP/1.1 (so every byte on
the wire is the test's to choose)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest

from service.outbound import (
    USER_AGENT,
    OutboundClient,
    OutboundError,
    OutboundInvalidURL,
    OutboundTimeout,
    _bypassed,
)
from tests.servers import free_port

Reply = Callable[[str, str, dict[str, str], bytes], Awaitable[bytes | None]]


def response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Server:
    """Answers each request with whatever `reply` returns; None closes the connection."""

    reply: Reply
    connections: int = 0
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((method, target, headers, body))
                raw = await self.reply(method, target, headers, body)
                if raw is None:
                    break
                writer.write(raw)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Reply], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> Server:
        server = Server(reply)
        port = free_port()
        servers.append(await asyncio.start_server(server.handle, "127.0.0.1", port))
        server.url = f"http://127.0.0.1:{port}"
        return server

    yield start
    for s in servers:
        s.close()
        await s.wait_closed()


async def echo(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    return response(200, json.dumps({"ok": True}).encode(), {"Content-Type": "application/json"})


async def test_request_arrives_as_sent(serve: Callable[[Reply], Awaitable[Server]]):
    server = await serve(echo)
    async with OutboundClient(5) as client:
        posted = await client.request(
            "POST",
            server.url + "/v2/translate",
            params={"key": "a/b c&d", "q": "año"},
            json={"text": ["Hola", "año"]},
            headers={"Authorization": "DeepL-Auth-Key k"},
        )
        got = await client.request("GET", server.url + "/languages")
    assert posted.status_code == 200 and posted.json() == {"ok": True}
    assert posted.headers["content-type"] == "application/json"  # case-insensitive
    assert got.status_code == 200
    (m1, t1, h1, b1), (m2, t2, h2, b2) = server.requests
    path, _, query = t1.partition("?")
    assert (m1, path) == ("POST", "/v2/translate")
    assert parse_qs(query) == {"key": ["a/b c&d"], "q": ["año"]}
    assert json.loads(b1) == {"text": ["Hola", "año"]}
    assert h1["content-type"] == "application/json"
    assert h1["authorization"] == "DeepL-Auth-Key k"
    assert h1["content-length"] == str(len(b1))
    assert h1["user-agent"] == USER_AGENT
    # A GET without a body carries no invented Content-Type, and no cookie is ever sent.
    assert (m2, t2, b2) == ("GET", "/languages", b"")
    assert "content-type" not in h2 and "cookie" not in h2


async def test_cookies_are_neither_kept_nor_sent(serve: Callable[[Reply], Awaitable[Server]]):
    async def sets_cookie(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        return response(200, b"{}", {"Set-Cookie": "session=abc; Path=/"})

    server = await serve(sets_cookie)
    async with OutboundClient(5) as client:
        await client.request("GET", server.url + "/a")
        await client.request("GET", server.url + "/b")
    assert all("cookie" not in headers for _, _, headers, _ in server.requests)


async def test_compressed_reply_is_decoded(serve: Callable[[Reply], Awaitable[Server]]):
    payload = json.dumps({"translations": [{"text": "Hola"}]}).encode()

    async def gzipped(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        assert "gzip" in headers["accept-encoding"]
        return response(200, gzip.compress(payload), {"Content-Encoding": "gzip"})

    server = await serve(gzipped)
    async with OutboundClient(5) as client:
        reply = await client.request("GET", server.url)
    assert reply.json() == {"translations": [{"text": "Hola"}]}


async def test_text_uses_the_declared_charset(serve: Callable[[Reply], Awaitable[Server]]):
    async def latin(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        return response(
            200, "año".encode("latin-1"), {"Content-Type": "text/plain; charset=latin-1"}
        )

    server = await serve(latin)
    async with OutboundClient(5) as client:
        reply = await client.request("GET", server.url)
    assert reply.text == "año"
    with pytest.raises(ValueError, match="decode"):  # what callers catch
        reply.json()


async def test_redirects_are_not_followed(serve: Callable[[Reply], Awaitable[Server]]):
    async def moved(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        return response(302, b"", {"Location": "/new"})

    server = await serve(moved)
    async with OutboundClient(5) as client:
        stay = await client.request("GET", server.url + "/old")
    assert stay.status_code == 302 and stay.headers["location"] == "/new"
    assert [t for _, t, _, _ in server.requests] == ["/old"]


async def test_connection_refused_is_an_outbound_error():
    async with OutboundClient(5) as client:
        with pytest.raises(OutboundError) as info:
            await client.request("GET", f"http://127.0.0.1:{free_port()}/")
    assert not isinstance(info.value, OutboundTimeout)


async def test_silent_server_times_out_within_the_deadline(
    serve: Callable[[Reply], Awaitable[Server]],
):
    async def hang(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        await asyncio.sleep(30)
        return response(200, b"late")

    server = await serve(hang)
    async with OutboundClient(30) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(OutboundTimeout):
            await client.request("GET", server.url, timeout=0.3)
        # The per-request timeout replaces the client's default of 30 s.
        assert loop.time() - started < 5


async def test_connection_dropped_mid_reply(serve: Callable[[Reply], Awaitable[Server]]):
    async def cut(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes | None:
        return None  # close without a status line

    server = await serve(cut)
    async with OutboundClient(5) as client:
        with pytest.raises(OutboundError):
            await client.request("GET", server.url)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "http://", "not a url", "http://[::1"])
async def test_unusable_urls_are_invalid(url: str):
    async with OutboundClient(5) as client:
        with pytest.raises(OutboundInvalidURL):
            await client.request("GET", url)


async def test_proxy_from_the_environment_unless_bypassed(
    serve: Callable[[Reply], Awaitable[Server]],
):
    async def proxy_reply(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        return response(200, b"via proxy")

    proxy = await serve(proxy_reply)
    direct = await serve(echo)
    proxies = {"http": proxy.url, "no": "localhost"}
    async with OutboundClient(5, environ_proxies=proxies) as client:
        proxied = await client.request("GET", "http://provider.example/translate")
        bypassed = await client.request("GET", direct.url.replace("127.0.0.1", "localhost"))
    assert proxied.text == "via proxy"
    # A proxied request names the absolute URL in its request line.
    assert [t for _, t, _, _ in proxy.requests] == ["http://provider.example/translate"]
    assert bypassed.json() == {"ok": True} and len(direct.requests) == 1


async def test_concurrent_calls_reuse_pooled_connections(
    serve: Callable[[Reply], Awaitable[Server]],
):
    async def slow(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return response(200, target.encode())

    server = await serve(slow)
    async with OutboundClient(5) as client:
        for _ in range(3):
            replies = await asyncio.gather(
                *(client.request("GET", f"{server.url}/{i}") for i in range(20))
            )
            assert [r.text for r in replies] == [f"/{i}" for i in range(20)]
    assert len(server.requests) == 60
    # Keep-alive: the second and third rounds ran on the first round's connections.
    assert server.connections == 20


@pytest.mark.parametrize(
    ("host", "no_proxy", "bypassed"),
    [
        ("api.deepl.com", "deepl.com", True),
        ("api.deepl.com", ".deepl.com", True),
        ("deepl.com", "deepl.com", True),
        ("notdeepl.com", "deepl.com", False),
        ("api.openai.com", "localhost, .internal", False),
        ("rocket.internal", "localhost, .internal", True),
        ("anything", "*", True),
        ("anything", "", False),
    ],
)
def test_no_proxy_matching(host: str, no_proxy: str, bypassed: bool):
    assert _bypassed(host, no_proxy) is bypassed
