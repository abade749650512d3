"""The baseline of the cached path: a Litestar app whose handler does one Redis GET.

Served exactly as `utp serve` serves the service (uvicorn, one worker, the same options), so
the ratio measures what our request path costs on top of the framework, the server and Redis.
`python -m bench.baseline --port P --redis-url URL`.
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, Request, post
from redis.asyncio import Redis

KEY = "bench:baseline"


class Body(msgspec.Struct):
    text: str
    target_lang: str


def build(redis_url: str) -> Litestar:
    redis = Redis.from_url(redis_url)

    @post("/api/v1/translate", status_code=200)
    async def translate(request: Request[Any, Any, Any], data: Body) -> dict[str, Any]:
        value = await redis.get(KEY)
        return {"translated_text": (value or b"").decode(), "cached": True}

    return Litestar(route_handlers=[translate], logging_config=None, debug=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    # The same options as service/cli.py `serve`.
    uvicorn.run(
        build(args.redis_url),
        host="127.0.0.1",
        port=args.port,
        workers=None,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_keep_alive=100,  # UTP_KEEPALIVE_SECONDS's default
    )


if __name__ == "__main__":
    main()
