"""Rate limits: shared through Redis by every replica, in process without it; 429 + Retry-After."""

from __future__ import annotations

import pytest

from tests.servers import RedisServer
from tests.service.usage.conftest import Starter, make_settings


def _assert_limited(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["request_id"]
    assert "per minute per API key" in error["message"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60


@pytest.mark.redis
async def test_replicas_share_the_limit_and_no_header_resets_it(
    start: Starter, redis_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}", redis_url=redis_url
    )
    one = await start(settings, rate_limit_key_per_minute=6)
    two = await start(settings, rate_limit_key_per_minute=6)  # another replica, same Redis
    assert (await one.translate("First")).status_code == 200
    assert (await two.translate("Second")).status_code == 200
    for i in range(4):
        replica = one if i % 2 else two
        assert (await replica.translate(f"More {i}")).status_code == 200
    _assert_limited(await two.translate("Over"))
    tricks = [
        {"X-Forwarded-For": "10.9.8.7"},
        {"X-Real-IP": "10.1.1.1"},
        {"X-Request-ID": "fresh-id"},
        {"X-User-Id": "someone-else"},
        {"X-RateLimit-Reset": "1"},
    ]
    for extra in tricks:
        _assert_limited(await one.translate("Over", headers={**one.headers, **extra}))
    # Refused requests use nothing up; another key of the workspace has its own window.
    other_key, _ = await one.tenant("second-key", scopes=("translate",))
    response = await one.translate("Other key", headers={"X-API-Key": other_key})
    assert response.status_code == 200


async def test_in_process_limits_per_channel_and_per_key_without_redis(start: Starter) -> None:
    from service.observability.metrics import REGISTRY

    def rejections(scope: str) -> float:
        name = "utp_rate_limit_rejections_total"
        return REGISTRY.get_sample_value(name, {"scope": scope}) or 0.0

    before = rejections("channel")
    app = await start(rate_limit_channel_per_minute=2, rate_limit_key_per_minute=5)
    general = [(await app.translate(f"G{i}", channel_id="GENERAL")).status_code for i in range(3)]
    assert general == [200, 200, 429]
    assert rejections("channel") == before + 1
    assert (
        "per minute per channel"
        in (await app.translate("G", channel_id="GENERAL")).json()["error"]["message"]
    )
    assert (await app.translate("R1", channel_id="RANDOM")).status_code == 200
    assert (await app.translate("No channel")).status_code == 200
    assert (await app.translate("Fifth for the key", channel_id="THIRD")).status_code == 200
    _assert_limited(await app.translate("Sixth for the key", channel_id="THIRD"))


async def test_a_batch_counts_each_of_its_texts(start: Starter) -> None:
    app = await start(rate_limit_key_per_minute=3)
    batch = await app.client.post(
        "/api/v1/translate/batch",
        json={"texts": ["one", "two", "three"], "target_lang": "es"},
        headers=app.headers,
    )
    assert batch.status_code == 200
    _assert_limited(await app.translate("fourth"))


@pytest.mark.redis
async def test_redis_down_falls_back_to_in_process_limits(
    start: Starter, redis_server: RedisServer, redis_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}", redis_url=redis_url
    )
    app = await start(settings, rate_limit_key_per_minute=3)
    redis_server.stop()
    try:
        codes = [(await app.translate(f"Down {i}")).status_code for i in range(4)]
    finally:
        redis_server.start()
    assert codes == [200, 200, 200, 429]


@pytest.mark.redis
async def test_concurrent_checks_share_calls_and_stay_exact(redis_url: str) -> None:
    """Checks arriving together go to Redis in shared script calls, each counted in order:
    a limit of 10 admits exactly 10 of 25 concurrent requests, a refused request uses nothing
    up (a cheap one after it still fits), and workspaces do not share windows."""
    import asyncio
    import dataclasses
    import uuid

    from redis.asyncio import Redis

    from service.errors import RateLimited
    from service.settings import UsageSettings
    from service.usage.ratelimit import RateLimiter

    redis = Redis.from_url(redis_url)
    await redis.config_resetstat()
    settings = dataclasses.replace(
        UsageSettings(), rate_limit_key_per_minute=10, rate_limit_key_per_hour=0
    )
    limiter = RateLimiter(settings, redis)
    one, two, key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def hit(workspace: uuid.UUID, cost: int = 1) -> bool:
        try:
            await limiter.hit(workspace, api_key_id=key, cost=cost)
        except RateLimited:
            return False
        return True

    first = await asyncio.gather(*(hit(one) for _ in range(25)), *(hit(two) for _ in range(4)))
    assert first[:25].count(True) == 10 and first[25:] == [True] * 4
    # Workspace two has 6 left: a request costing 7 is refused, the 6 after it in the same
    # batch still fit.
    second = await asyncio.gather(hit(two, cost=7), *(hit(two) for _ in range(6)), hit(two))
    assert second == [False] + [True] * 6 + [False]
    stats = await redis.info("commandstats")
    calls = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    assert 0 < calls < 10  # 37 checks in a handful of round trips
    await redis.aclose()
