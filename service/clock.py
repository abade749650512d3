"""The wall clock as a value: code that reads "now" takes a `Clock`, so a test states its date.

Calendar logic (this month's budget period, the usage report's default range, retention
cut-offs, key expiry) must not depend on the day the tests happen to run: a test that seeds
"yesterday" and reads "this month" fails on the 1st. Such code gets the clock it should read;
production passes `SYSTEM_CLOCK`, tests a `FrozenClock` at the moment they mean. Durations
(timeouts, backoff, cache ages) keep using `time.monotonic()`, which no calendar affects.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


class Clock:
    """The system's wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        """Today's date in UTC (the days of usage reports and budget months are UTC days)."""
        return self.now().date()


class FrozenClock(Clock):
    """A clock that shows one moment until it is moved (tests, and replaying a given date)."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime (UTC)")
        self._moment = moment.astimezone(UTC)

    def now(self) -> datetime:
        return self._moment

    def advance(self, delta: timedelta) -> None:
        self._moment += delta

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime (UTC)")
        self._moment = moment.astimezone(UTC)


SYSTEM_CLOCK = Clock()
