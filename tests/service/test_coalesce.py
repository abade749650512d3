"""The coalescer behind the rate limiter's and the cache's shared Redis calls."""

from __future__ import annotations

import asyncio

import pytest

from service.coalesce import Coalescer


async def test_one_iteration_one_call_per_key_and_every_caller_its_answer() -> None:
    calls: list[tuple[str, list[int]]] = []

    async def send(key: str, items: list[int]) -> list[int]:
        calls.append((key, items))
        return [i * 10 for i in items]

    batcher: Coalescer[str, int, int] = Coalescer(send, max_batch=3)
    answers = await asyncio.gather(
        *(batcher.submit("a", i) for i in range(5)), batcher.submit("b", 7)
    )
    assert answers == [0, 10, 20, 30, 40, 70]
    assert sorted(calls) == [("a", [0, 1, 2]), ("a", [3, 4]), ("b", [7])]
    assert await batcher.submit("a", 9) == 90  # alone later: a call of its own


async def test_a_failed_call_reaches_every_caller_of_its_batch() -> None:
    async def send(key: str, items: list[int]) -> list[int]:
        raise ConnectionError("redis went away")

    batcher: Coalescer[str, int, int] = Coalescer(send)
    results = await asyncio.gather(
        *(batcher.submit("a", i) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_wrong_number_of_answers_is_an_error_not_a_mix_up() -> None:
    async def send(key: str, items: list[int]) -> list[int]:
        return items[:1]

    batcher: Coalescer[str, int, int] = Coalescer(send)
    with pytest.raises(RuntimeError, match="1 answers for 2 items"):
        await asyncio.gather(batcher.submit("a", 1), batcher.submit("a", 2))
