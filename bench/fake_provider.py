"""A LibreTranslate-compatible fake with a fixed latency, run as its own process.

`python -m bench.fake_provider --port P --latency 0.05`. It answers `POST /translate` (JSON,
`q` a string or a list) after exactly `latency` seconds, `GET /languages`, and two control
routes for the benchmark: `GET /_stats` (calls and texts so far) and
`POST /_latency` (body: seconds) to change the latency between phases.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from bench.http import encode_response, read_request

CODES = ["en", "es", "fr", "de", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ca", "ja"]
# Every pair, so that whatever the detector decides for a short line is translatable.
LANGUAGES = [
    {"code": code, "name": code, "targets": [t for t in CODES if t != code]} for code in CODES
]


class FakeProvider:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self.texts = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_request(reader)) is not None:
                method, path, body = request
                writer.write(await self.route(method, path, body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def route(self, method: str, path: str, body: bytes) -> bytes:
        if method == "POST" and path == "/translate":
            data = json.loads(body)
            q = data.get("q")
            self.calls += 1
            self.texts += len(q) if isinstance(q, list) else 1
            await asyncio.sleep(self.latency)
            target = data.get("target", "xx")
            out = [f"[{target}] {t}" for t in q] if isinstance(q, list) else f"[{target}] {q}"
            return encode_response(200, json.dumps({"translatedText": out}).encode())
        if method == "GET" and path == "/languages":
            return encode_response(200, json.dumps(LANGUAGES).encode())
        if method == "GET" and path == "/_stats":
            stats = {"calls": self.calls, "texts": self.texts, "latency": self.latency}
            return encode_response(200, json.dumps(stats).encode())
        if method == "POST" and path == "/_latency":
            self.latency = float(body)
            return encode_response(200, b"{}")
        return encode_response(404, b'{"error": "Not Found"}')


async def serve(port: int, latency: float) -> None:
    fake = FakeProvider(latency)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    asyncio.run(serve(args.port, args.latency))


if __name__ == "__main__":
    main()
