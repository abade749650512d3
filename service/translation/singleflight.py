"""Single-flight: concurrent requests for the same key share one in-flight computation."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from service.observability import metrics

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """A registry of in-flight keys.

    `claim(key)` makes the caller the leader of `key` (it must later `resolve` or `fail` it) or
    hands back the leader's future to wait on. Claims are synchronous, so a batch can claim many
    keys and compute all its own in one provider call.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[T]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    def claim(self, key: str) -> tuple[asyncio.Future[T], bool]:
        existing = self._inflight.get(key)
        if existing is not None:
            metrics.SINGLEFLIGHT_COALESCED.inc()
            return existing, False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        return future, True

    def resolve(self, key: str, value: T) -> None:
        future = self._inflight.pop(key, None)
        if future is not None and not future.done():
            future.set_result(value)

    def fail(self, key: str, exc: BaseException) -> None:
        future = self._inflight.pop(key, None)
        if future is not None and not future.done():
            future.set_exception(exc)
            # Mark retrieved: followers may be gone, the leader reports the error itself.
            future.exception()


async def wait(future: asyncio.Future[T]) -> T:
    """Await a leader's future; shielded so a cancelled follower does not cancel the leader."""
    return await asyncio.shield(future)
