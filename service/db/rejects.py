"""Telling a row the database refuses for its content from a database that is away.

The background writers (the usage ledger, the translation memory) retry an outage, but a row
the database will never take must not be retried: behind it, every later row of every tenant
would wait for ever. `content_rejected` tells the two apart, and `isolate` writes a batch so
that only the refused rows are set aside and the others still get in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

T = TypeVar("T")

# SQLSTATE classes about the data, not the server: 22 data exception (NUL in text, a value out
# of range, bad encoding), 23 integrity constraint violation (a deleted workspace's foreign key).
_CONTENT_CLASSES = ("22", "23")


def content_rejected(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing this data (retrying will never help)."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    if isinstance(exc, UnicodeEncodeError):
        return True  # a lone surrogate the driver cannot send
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_CONTENT_CLASSES):
        return True
    # asyncpg refuses some values before sending them (its DataError is a ValueError); SQLAlchemy
    # wraps that as an InterfaceError with the original as the cause.
    cause = getattr(exc.orig, "__cause__", None)
    return isinstance(cause, ValueError)


def reason_of(exc: BaseException) -> str:
    """A short reason without the statement or its parameters (they hold tenants' text)."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None)
    name = type(getattr(orig, "__cause__", None) or orig).__name__
    return f"{name} (SQLSTATE {sqlstate})" if sqlstate else name


async def isolate(
    items: Sequence[T],
    write: Callable[[Sequence[T]], Awaitable[None]],
    set_aside: Callable[[T, BaseException], None],
) -> None:
    """`write(items)`; when the database refuses the content, halve until each refused item is
    alone, hand it to `set_aside` and write the others. Any other error propagates (an outage:
    the caller keeps everything and retries)."""
    if not items:
        return
    try:
        await write(items)
    except Exception as exc:
        if not content_rejected(exc):
            raise
        if len(items) == 1:
            set_aside(items[0], exc)
            return
        middle = len(items) // 2
        await isolate(items[:middle], write, set_aside)
        await isolate(items[middle:], write, set_aside)
