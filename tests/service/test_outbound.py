"""The outbound client: httpx's behaviour over the aiohttp transport, against a loopback server
that speaks raw HTTP/1.1 (so every byte on the wire is the test's to choose)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from service.outbound import outbound_client
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


async def test_request_arrives_as_httpx_built_it(serve: Callable[[Reply], Awaitable[Server]]):
    server = await serve(echo)
    async with outbound_client(5) as client:
        posted = await client.post(
            server.url + "/v2/translate",
            params={"key": "a/b c", "q": "año"},
            json={"text": ["Hola"]},
            headers={"Authorization": "DeepL-Auth-Key k"},
        )
        got = await client.get(server.url + "/languages")
    assert posted.status_code == 200 and posted.json() == {"ok": True}
    assert got.status_code == 200
    (m1, t1, h1, b1), (m2, t2, h2, b2) = server.requests
    assert (m1, t1) == ("POST", "/v2/translate?key=a%2Fb+c&q=a%C3%B1o")
    assert json.loads(b1) == {"text": ["Hola"]}
    assert h1["content-type"] == "application/json"
    assert h1["authorization"] == "DeepL-Auth-Key k"
    assert h1["content-length"] == str(len(b1))
    assert h1["user-agent"].startswith("python-httpx/")
    # A GET without a body carries no invented Content-Type.
    assert (m2, t2, b2) == ("GET", "/languages", b"")
    assert "content-type" not in h2


async def test_compressed_reply_is_decoded_once(serve: Callable[[Reply], Awaitable[Server]]):
    payload = json.dumps({"translations": [{"text": "Hola"}]}).encode()

    async def gzipped(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        assert "gzip" in headers["accept-encoding"]
        return response(200, gzip.compress(payload), {"Content-Encoding": "gzip"})

    server = await serve(gzipped)
    async with outbound_client(5) as client:
        reply = await client.get(server.url)
    assert reply.json() == {"translations": [{"text": "Hola"}]}


async def test_redirects_are_httpx_s_decision(serve: Callable[[Reply], Awaitable[Server]]):
    async def moved(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        if target == "/old":
            return response(302, b"", {"Location": "/new"})
        return response(200, b"new")

    server = await serve(moved)
    async with outbound_client(5) as client:
        stay = await client.get(server.url + "/old")
        follow = await client.get(server.url + "/old", follow_redirects=True)
    assert stay.status_code == 302 and stay.headers["location"] == "/new"
    assert follow.status_code == 200 and follow.text == "new"


async def test_connection_refused_is_connect_error():
    async with outbound_client(5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/")


async def test_silent_server_is_read_timeout(serve: Callable[[Reply], Awaitable[Server]]):
    async def hang(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        await asyncio.sleep(30)
        return response(200, b"late")

    server = await serve(hang)
    async with outbound_client(0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)


async def test_connection_dropped_mid_reply(serve: Callable[[Reply], Awaitable[Server]]):
    async def cut(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes | None:
        return None  # close without a status line

    server = await serve(cut)
    async with outbound_client(5) as client:
        with pytest.raises(httpx.TransportError):
            await client.get(server.url)


async def test_unsupported_scheme():
    async with outbound_client(5) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get("ftp://127.0.0.1/file")


async def test_concurrent_calls_reuse_pooled_connections(
    serve: Callable[[Reply], Awaitable[Server]],
):
    async def slow(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        await asyncio.sleep(0.05)
        return response(200, target.encode())

    server = await serve(slow)
    async with outbound_client(5) as client:
        for _ in range(3):
            replies = await asyncio.gather(*(client.get(f"{server.url}/{i}") for i in range(20)))
            assert [r.text for r in replies] == [f"/{i}" for i in range(20)]
    assert len(server.requests) == 60
    # Keep-alive: the second and third rounds ran on the first round's connections.
    assert server.connections == 20
