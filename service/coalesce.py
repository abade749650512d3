"""Coalescing: the calls made during one event-loop iteration go out as one batch.

A busy service answers many requests per loop iteration; a Redis round trip each (a rate-limit
check, a cache lookup) cost more client CPU than anything else of ours on the cached path. A
`Coalescer` collects what is submitted during an iteration, per key, and hands each key's items
to `send` in one call when the iteration ends; every caller gets its own answer back. A quiet
service still makes one call per request. Batches in flight do not wait for each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[K, T, R]):
    """`await submit(key, item)` -> `send(key, items)[i]` for that item.

    `send` gets at most `max_batch` items, in submission order, and must answer one result per
    item, in order. If it raises, every caller of that batch gets the exception.
    """

    def __init__(
        self, send: Callable[[K, list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 256
    ) -> None:
        self._send = send
        self._max_batch = max_batch
        self._queued: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, item: T) -> R:
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        queued = self._queued.setdefault(key, [])
        queued.append((item, answer))
        if len(queued) == 1:
            # Its first step runs after the current callbacks: what is submitted meanwhile
            # goes along.
            self._track(asyncio.create_task(self._dispatch(key)))
        return await answer

    async def _dispatch(self, key: K) -> None:
        queued = self._queued.pop(key, [])
        step = self._max_batch
        batches = [queued[i : i + step] for i in range(0, len(queued), step)]
        for extra in batches[1:]:
            self._track(asyncio.create_task(self._deliver(key, extra)))
        if batches:
            await self._deliver(key, batches[0])

    async def _deliver(self, key: K, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._send(key, [item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} answers for {len(batch)} items")
        except BaseException as exc:
            failure = exc if isinstance(exc, Exception) else RuntimeError("batch cancelled")
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(failure)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), result in zip(batch, results, strict=True):
            if not answer.done():
                answer.set_result(result)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
