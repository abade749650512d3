"""The load generator, run as its own process: `python -m bench.load < job.json > result.json`.

A job names a target (host, port), a list of requests (each sent in turn, cycling) and a mode:
- `closed`: `connections` clients, each sending its next request when the last one answered,
  until `max_requests` answers or `max_seconds` elapsed (after `warmup_seconds` unmeasured);
- `open`: requests started at a fixed `rate` for `seconds`, whatever the answers do; latency
  counts from the scheduled start, so a slow server cannot hide its queue (no coordinated
  omission); bounded by `max_connections` and a drain timeout;
- `burst`: `connections` connections opened first, then one request sent on each at once.
The result has counts per status, throughput and latency percentiles in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from bench.http import Connection, encode_request


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": round(at(0.50) * 1000, 3),
        "p90": round(at(0.90) * 1000, 3),
        "p99": round(at(0.99) * 1000, 3),
        "max": round(ordered[-1] * 1000, 3),
    }


class Recorder:
    def __init__(self, marker: str | None) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.errors = 0
        # Why requests failed, by kind: a connection error names its exception.
        self.error_kinds: dict[str, int] = {}
        self.marker = marker.encode() if marker else None
        self.marked = 0

    def add(self, status: int, body: bytes, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if self.marker is not None and self.marker in body:
            self.marked += 1

    def fail(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def result(self, seconds: float) -> dict[str, Any]:
        ok = sum(n for s, n in self.statuses.items() if s.startswith("2"))
        return {
            "count": len(self.latencies),
            "ok": ok,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "statuses": self.statuses,
            "marked": self.marked,
            "seconds": round(seconds, 3),
            "rps": round(ok / seconds, 2) if seconds > 0 else 0.0,
            "latency_ms": percentiles(self.latencies),
        }


def _encode_all(job: dict[str, Any]) -> list[bytes]:
    host = f"{job['host']}:{job['port']}"
    return [
        encode_request(
            r["method"],
            r["path"],
            host,
            r.get("headers", {}),
            r["body"].encode() if r.get("body") is not None else None,
        )
        for r in job["requests"]
    ]


async def closed(job: dict[str, Any]) -> dict[str, Any]:
    raw = _encode_all(job)
    recorder = Recorder(job.get("marker"))
    counter = iter(range(10**12))
    max_requests = job.get("max_requests", 10**12)
    warmup_until = time.perf_counter() + job.get("warmup_seconds", 0.0)
    started = warmup_until
    deadline = warmup_until + job["max_seconds"]

    async def client() -> None:
        conn = await Connection.open(job["host"], job["port"])
        try:
            while True:
                now = time.perf_counter()
                index = next(counter)
                if now >= deadline or index >= max_requests:
                    return
                request = raw[index % len(raw)]
                try:
                    status, body = await conn.send(request)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    recorder.fail(type(exc).__name__)
                    conn.close()
                    conn = await Connection.open(job["host"], job["port"])
                    continue
                end = time.perf_counter()
                if now >= warmup_until:
                    recorder.add(status, body, end - now)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(job["connections"])))
    return recorder.result(time.perf_counter() - started)


async def open_loop(job: dict[str, Any]) -> dict[str, Any]:
    raw = _encode_all(job)
    recorder = Recorder(job.get("marker"))
    rate, seconds = job["rate"], job["seconds"]
    total = int(rate * seconds)
    idle: list[Connection] = []
    in_flight = 0
    limit = job.get("max_connections", 4096)
    started = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        nonlocal in_flight
        in_flight += 1
        conn = idle.pop() if idle else None
        reused = conn is not None
        try:
            if conn is None:
                conn = await Connection.open(job["host"], job["port"])
            status, body = await conn.send(raw[i % len(raw)])
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            recorder.fail(f"{type(exc).__name__} ({'reused' if reused else 'new'} connection)")
            if conn is not None:
                conn.close()
            return
        finally:
            in_flight -= 1
        recorder.add(status, body, time.perf_counter() - scheduled)
        idle.append(conn)

    tasks = []
    for i in range(total):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= limit:
            recorder.fail("client limit")  # the client gives up: a failure of the step
            continue
        tasks.append(asyncio.create_task(one(i, scheduled)))
    sent_seconds = time.perf_counter() - started
    _done, pending = await asyncio.wait(tasks, timeout=job.get("drain_seconds", 10.0))
    for task in pending:
        task.cancel()
        recorder.fail("no answer in time")
    result = recorder.result(max(sent_seconds, time.perf_counter() - started))
    result["offered_rps"] = rate
    result["rps"] = round(result["ok"] / max(seconds, sent_seconds), 2)
    for conn in idle:
        conn.close()
    return result


async def burst(job: dict[str, Any]) -> dict[str, Any]:
    [request] = _encode_all(job)[:1]
    recorder = Recorder(job.get("marker"))
    conns = []
    for start in range(0, job["connections"], 100):
        batch = range(start, min(job["connections"], start + 100))
        conns += await asyncio.gather(*(Connection.open(job["host"], job["port"]) for _ in batch))
    started = time.perf_counter()

    async def one(conn: Connection) -> None:
        sent = time.perf_counter()
        try:
            status, body = await conn.send(request)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            recorder.fail(type(exc).__name__)
            return
        recorder.add(status, body, time.perf_counter() - sent)

    await asyncio.wait_for(asyncio.gather(*(one(c) for c in conns)), job.get("max_seconds", 60))
    result = recorder.result(time.perf_counter() - started)
    for conn in conns:
        conn.close()
    return result


MODES = {"closed": closed, "open": open_loop, "burst": burst}


def main() -> None:
    job = json.load(sys.stdin)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    result = asyncio.run(MODES[job["mode"]](job))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
