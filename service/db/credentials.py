"""Database credentials that survive a password rotation: re-read from their file per connection.

The platform mounts the synced Secret holding the database URL as a file
(`UTP_DATABASE_URL_FILE`); the kubelet rewrites that file when the Secret changes, but a process
that read it once at start-up would go on offering the old password. So every new connection
reads the user name and password from the file again (a SQLAlchemy `do_connect` hook), instead
of only after PostgreSQL refused the old ones: reading a ~200-byte file costs microseconds next
to the TLS and SCRAM handshake it precedes, no remembered copy can go stale, and nothing has to
decide which failure means "rotated". Connections already open are left alone (PostgreSQL checks
a password only when a session starts), so a rotation costs nothing until the pool needs a new
connection. Only the credentials come from the file: host, database and TLS are the engine's.

A refusal (SQLSTATE 28P01 wrong password, 28000 no such role or not allowed) is logged with the
user, the file and what to check, never the password or the URL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from ops_common.env import read_secret_file
from service.settings import normalize_database_url

log = logging.getLogger(__name__)

# invalid_password, invalid_authorization_specification.
AUTH_SQLSTATES: Final = frozenset({"28P01", "28000"})


def read_credentials(path: Path) -> tuple[str | None, str | None]:
    """The user name and password of the database URL in `path` (raises OSError/ValueError)."""
    try:
        url = make_url(normalize_database_url(read_secret_file(path).strip()))
    except ArgumentError:
        # The message would quote the file's text, password included.
        raise ValueError("not a database URL") from None
    return url.username, url.password


def refused_credentials(exc: BaseException) -> bool:
    """PostgreSQL refused to authenticate (the driver's or SQLAlchemy's error, by SQLSTATE)."""
    for error in (exc, exc.__cause__, getattr(exc, "orig", None)):
        if getattr(error, "sqlstate", None) in AUTH_SQLSTATES:
            return True
    return False


def install(engine: AsyncEngine, credentials_file: Path | None) -> None:
    """Read the credentials from `credentials_file` (if any) for every new connection, and log
    a refusal clearly."""
    source = str(credentials_file) if credentials_file else "UTP_DATABASE_URL"

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(
        dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: dict[str, Any]
    ) -> Any:
        if credentials_file is not None:
            try:
                cparams["user"], cparams["password"] = read_credentials(credentials_file)
            except (OSError, ValueError) as exc:
                # Mid-swap or misconfigured: the credentials read at start-up may still work.
                log.warning(
                    "cannot read the database credentials from %s (%s); connecting with the "
                    "ones read at start-up",
                    credentials_file,
                    getattr(exc, "strerror", None) or exc,
                )
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if refused_credentials(exc):
                log.error(
                    "the database refused the credentials of user %r from %s (SQLSTATE %s): %s",
                    cparams.get("user"),
                    source,
                    getattr(exc, "sqlstate", "?"),
                    _hint(credentials_file),
                )
            raise


def _hint(credentials_file: Path | None) -> str:
    if credentials_file is None:
        return (
            "UTP_DATABASE_URL is read once at start-up; after a rotation restart the service, "
            "or give the URL as a file (UTP_DATABASE_URL_FILE), which is re-read per connection"
        )
    return (
        "every new connection re-reads that file; after a rotation it is rewritten within "
        "the ExternalSecret's refresh interval plus the kubelet's sync period (docs/platform.md)"
    )
