"""Rate limits per API key, per user and per channel, per minute and per hour.

Fixed windows counted in Redis, so every replica shares them: one Lua script checks every
window that applies and, only if all have room, increments them all (a refused request uses up
nothing). A window starts at its first request and expires after its length; `Retry-After` is
the time left in the window that refused. A fixed window lets a client burst up to twice the
limit across a window boundary; that is the usual price of one round trip per request.

The identities come from the verified principal (API key, JWT user) and the channel of the
request; no header takes part, so none can reset or spread a budget. Without Redis, or while
it is unreachable, the same windows are counted in process (per replica).

Concurrent checks of one workspace share one script call: the checks made during one event-loop
iteration go together at its end, and the script handles them one after the other, each exactly
as if it had been sent alone. A quiet service still makes one call per request; a busy one
makes one per loop iteration, which took the rate limiter from a sixth of a cached request's
CPU to a few per cent (bench/README.md, third round). Calls do not wait for each other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.coalesce import Coalescer
from service.errors import RateLimited
from service.observability import metrics
from service.settings import UsageSettings

log = logging.getLogger(__name__)

# One call checks a batch of requests in order. ARGV per request: the number of its windows n,
# its cost, then limit and window (ms) per window; KEYS: every request's windows, in order.
# Returns, per request, the 1-based index of the window that refused it (0: admitted) and that
# window's remaining time in ms.
_SCRIPT = """
local out = {}
local k, a = 1, 1
while a <= #ARGV do
  local n, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local refused, ttl = 0, 0
  for i = 0, n - 1 do
    local limit = tonumber(ARGV[a + 2 + 2 * i])
    local used = tonumber(redis.call('GET', KEYS[k + i]) or '0')
    if used + cost > limit then
      refused = i + 1
      ttl = redis.call('PTTL', KEYS[k + i])
      if ttl < 0 then
        ttl = tonumber(ARGV[a + 3 + 2 * i])
        redis.call('PEXPIRE', KEYS[k + i], ttl)
      end
      break
    end
  end
  if refused == 0 then
    for i = 0, n - 1 do
      if redis.call('INCRBY', KEYS[k + i], cost) == cost then
        redis.call('PEXPIRE', KEYS[k + i], tonumber(ARGV[a + 3 + 2 * i]))
      end
    end
  end
  out[#out + 1] = refused
  out[#out + 1] = ttl
  k = k + n
  a = a + 2 + 2 * n
end
return out
"""
# workspace, API key, user, channel
_Identity = tuple[uuid.UUID, uuid.UUID | None, str | None, str | None]
# The window that refused a check and the seconds left in it, or None: admitted.
_Answer = tuple["Rule", float] | None
# Identities whose windows are kept built (cleared when full).
_RULES_CACHED = 10_000
# At most this many requests per script call (the rest wait for the next one).
_MAX_BATCH = 256


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    limit: int
    window_ms: int
    what: str  # for the error message
    scope: str = "api_key"  # api_key | user | channel: the metric label


class RateLimiter:
    def __init__(
        self,
        settings: UsageSettings,
        redis: Redis | None = None,
        *,
        retry_seconds: float = 5.0,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._script = redis.register_script(_SCRIPT) if redis is not None else None
        self._retry_seconds = retry_seconds
        self._redis_down_until = 0.0
        self._local: dict[str, tuple[int, float]] = {}
        # The windows of each identity, built once (the settings do not change).
        self._rules: dict[_Identity, list[Rule]] = {}
        # Checks share script calls per workspace (one Redis Cluster slot each).
        self._checks: Coalescer[uuid.UUID, tuple[list[Rule], int], _Answer] = Coalescer(
            self._call, max_batch=_MAX_BATCH
        )

    def rules(
        self,
        workspace_id: uuid.UUID,
        *,
        api_key_id: uuid.UUID | None,
        user_id: str | None,
        channel_id: str | None,
    ) -> list[Rule]:
        s = self._settings
        # The hash tag keeps a workspace's counters in one Redis Cluster slot (one script).
        base = f"utp:rl:{{{workspace_id}}}"
        out: list[Rule] = []
        for kind, ident, per_minute, per_hour in (
            ("key", api_key_id, s.rate_limit_key_per_minute, s.rate_limit_key_per_hour),
            ("user", user_id, s.rate_limit_user_per_minute, s.rate_limit_user_per_hour),
            ("channel", channel_id, s.rate_limit_channel_per_minute, s.rate_limit_channel_per_hour),
        ):
            if ident is None:
                continue
            for window, limit, label in ((60, per_minute, "minute"), (3600, per_hour, "hour")):
                if limit > 0:
                    out.append(
                        Rule(
                            key=f"{base}:{kind}:{ident}:{window}",
                            limit=limit,
                            window_ms=window * 1000,
                            what=f"{limit} per {label} per {'API key' if kind == 'key' else kind}",
                            scope="api_key" if kind == "key" else kind,
                        )
                    )
        return out

    async def hit(
        self,
        workspace_id: uuid.UUID,
        *,
        api_key_id: uuid.UUID | None,
        user_id: str | None = None,
        channel_id: str | None = None,
        cost: int = 1,
    ) -> None:
        """Count `cost` requests against every window that applies, or raise `RateLimited`."""
        identity = (workspace_id, api_key_id, user_id, channel_id)
        rules = self._rules.get(identity)
        if rules is None:
            rules = self.rules(
                workspace_id, api_key_id=api_key_id, user_id=user_id, channel_id=channel_id
            )
            if len(self._rules) >= _RULES_CACHED:
                self._rules.clear()
            self._rules[identity] = rules
        await self._enforce(workspace_id, rules, cost)

    async def hit_exchange(
        self, workspace_id: uuid.UUID, *, api_key_id: uuid.UUID | None, user_id: str
    ) -> None:
        """Before a Rocket.Chat token exchange: every attempt counts against the integration
        key's window; the user id's window refuses once it holds as many *failed* attempts as
        its limit (`exchange_failed`), so an auth token cannot be guessed faster than that
        while a user who signs in often is never held back. The console's sign-in has no
        integration key (`api_key_id` None): only the user's window applies."""
        s = self._settings
        key_limit, user_limit = (
            s.rate_limit_exchange_per_minute,
            s.rate_limit_exchange_user_per_minute,
        )
        if key_limit > 0 and api_key_id is not None:
            await self._enforce(
                workspace_id,
                [self._exchange_rule(workspace_id, "key", str(api_key_id), key_limit)],
                1,
            )
        if user_limit > 0:
            # Cost 0 against limit - 1: refused exactly when `user_limit` failures are counted.
            rule = self._exchange_rule(workspace_id, "user", user_id, user_limit)
            await self._enforce(workspace_id, [dataclasses.replace(rule, limit=user_limit - 1)], 0)

    async def exchange_failed(self, workspace_id: uuid.UUID, *, user_id: str) -> None:
        """Count a failed exchange for `user_id` (never refuses: the attempt was made)."""
        limit = self._settings.rate_limit_exchange_user_per_minute
        if limit > 0:
            rule = self._exchange_rule(workspace_id, "user", user_id, limit)
            await self._enforce(workspace_id, [dataclasses.replace(rule, limit=2**31)], 1)

    def _exchange_rule(self, workspace_id: uuid.UUID, kind: str, ident: str, limit: int) -> Rule:
        if kind == "user":  # any length the caller sends, one bounded key
            ident = hashlib.sha256(ident.encode()).hexdigest()[:32]
        what = "API key" if kind == "key" else "user (failed attempts)"
        return Rule(
            key=f"utp:rl:{{{workspace_id}}}:exchange:{kind}:{ident}:60",
            limit=limit,
            window_ms=60_000,
            what=f"{limit} token exchanges per minute per {what}",
            scope="api_key" if kind == "key" else "user",
        )

    async def _enforce(self, workspace_id: uuid.UUID, rules: list[Rule], cost: int) -> None:
        if not rules:
            return
        refused: tuple[Rule, float] | None
        if self._script is not None and time.monotonic() >= self._redis_down_until:
            try:
                refused = await self._redis_hit(workspace_id, rules, cost)
            except (RedisError, OSError, TimeoutError) as exc:
                if time.monotonic() >= self._redis_down_until:
                    log.warning("rate limits counted in process: Redis failed (%s)", exc)
                self._redis_down_until = time.monotonic() + self._retry_seconds
                refused = self._local_hit(rules, cost)
        else:
            refused = self._local_hit(rules, cost)
        if refused is not None:
            rule, wait = refused
            retry_after = max(1, math.ceil(wait))
            metrics.RATE_LIMIT_REJECTIONS.labels(scope=rule.scope).inc()
            raise RateLimited(
                f"rate limit reached ({rule.what}); retry in {retry_after} s",
                details={"limit": rule.limit, "window_seconds": rule.window_ms // 1000},
                headers={"Retry-After": str(retry_after)},
            )

    async def _redis_hit(
        self, workspace_id: uuid.UUID, rules: list[Rule], cost: int
    ) -> tuple[Rule, float] | None:
        return await self._checks.submit(workspace_id, (rules, cost))

    async def _call(
        self, _workspace_id: uuid.UUID, batch: list[tuple[list[Rule], int]]
    ) -> list[_Answer]:
        assert self._script is not None
        keys: list[str] = []
        args: list[int] = []
        for rules, cost in batch:
            keys += [r.key for r in rules]
            args += [len(rules), cost]
            for rule in rules:
                args += [rule.limit, rule.window_ms]
        flat = await self._script(keys=keys, args=args)
        if len(flat) != 2 * len(batch):
            raise RedisError(f"rate limit script answered {len(flat)} values for {len(batch)}")
        answers: list[_Answer] = []
        for i, (rules, _cost) in enumerate(batch):
            index, ttl_ms = int(flat[2 * i]), int(flat[2 * i + 1])
            answers.append(None if index == 0 else (rules[index - 1], ttl_ms / 1000))
        return answers

    def _local_hit(self, rules: list[Rule], cost: int) -> tuple[Rule, float] | None:
        now = time.monotonic()
        if len(self._local) > 100_000:
            self._local = {k: v for k, v in self._local.items() if v[1] > now}
        for rule in rules:
            used, ends = self._local.get(rule.key, (0, 0.0))
            if ends <= now:
                used, ends = 0, now + rule.window_ms / 1000
            if used + cost > rule.limit:
                return rule, ends - now
        for rule in rules:
            used, ends = self._local.get(rule.key, (0, 0.0))
            if ends <= now:
                used, ends = 0, now + rule.window_ms / 1000
            self._local[rule.key] = (used + cost, ends)
        return None
