"""The database role without PostgreSQL: SQLite is always the primary, and only SQLSTATE 25006
counts as "the database is read-only"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from service.db.role import DatabaseRole, refuses_writes, unless_read_only
from service.db.session import create_engine
from service.observability import metrics


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str) -> DBAPIError:
    return DBAPIError("INSERT INTO t VALUES (1)", None, _DriverError(sqlstate))


def test_only_read_only_sql_transaction_is_a_refused_write() -> None:
    assert refuses_writes(_wrapped("25006"))
    cause = RuntimeError("adapted")
    cause.__cause__ = _DriverError("25006")
    assert refuses_writes(DBAPIError("UPDATE t", None, cause))
    assert not refuses_writes(_wrapped("23505"))
    assert not refuses_writes(OperationalError("SELECT 1", None, ConnectionRefusedError()))
    assert not refuses_writes(ValueError("nothing to do with a database"))


def test_best_effort_writes_skip_a_refusal_and_raise_anything_else() -> None:
    with unless_read_only("a note"):
        raise _wrapped("25006")
    with pytest.raises(DBAPIError), unless_read_only("a note"):
        raise _wrapped("53300")  # too many connections: an outage, not a role


async def test_sqlite_is_always_the_primary(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}")
    role = DatabaseRole(engine, interval=0.01)
    try:
        role.start()
        assert await role.check() == "primary"
        assert not role.read_only
        sample = metrics.REGISTRY.get_sample_value
        assert sample("utp_database_role", {"role": "primary"}) == 1
        assert sample("utp_database_role", {"role": "replica"}) == 0
    finally:
        await role.stop()
        await engine.dispose()
