"""`utp workspaces` and `utp keys`: what an operator types, against a real database file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.db.migrate import upgrade


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in [n for n in __import__("os").environ if n.startswith("UTP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UTP_DATA_DIR", str(tmp_path))
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output

    return invoke


def test_workspaces_and_keys_from_the_shell(run) -> None:  # type: ignore[no-untyped-def]
    created = run("workspaces", "create", "acme")
    assert re.search(r"admin API key \(shown only once\): utp_[a-z0-9]{12}_\S+", created)
    assert "already exists" in run("workspaces", "create", "acme", ok=False)
    assert [w["name"] for w in json.loads(run("workspaces", "list", "--json"))] == ["acme"]

    operator = run("keys", "create", "--workspace", "acme", "--operator")
    assert "(operator translate)" in operator
    assert re.search(r"API key \(shown only once\): utp_\S+", operator)
    scoped = run(
        "keys", "create", "--workspace", "acme", "--name", "ci",
        "--scope", "read:usage", "--expires-in-days", "7",
    )  # fmt: skip
    key_id = re.search(r"API key (\S+) ", scoped).group(1)  # type: ignore[union-attr]

    listed = json.loads(run("keys", "list", "--workspace", "acme", "--json"))
    assert {k["name"]: k["scopes"] for k in listed} == {
        "admin": ["translate", "admin", "read:usage"],
        "operator": ["operator", "translate"],
        "ci": ["read:usage"],
    }
    assert all(k["status"] == "active" and "key" not in k for k in listed)
    run("keys", "revoke", "--workspace", "acme", key_id)
    statuses = {
        k["name"]: k["status"]
        for k in json.loads(run("keys", "list", "--workspace", "acme", "--json"))
    }
    assert statuses["ci"] == "revoked"
    assert "no such API key" in run("keys", "revoke", "--workspace", "acme", "nonsense", ok=False)
    assert "no workspace named" in run("keys", "list", "--workspace", "nope", ok=False)

    run("workspaces", "rename", "acme", "acme-corp")
    run("workspaces", "delete", "acme-corp", "--yes")
    assert json.loads(run("workspaces", "list", "--json")) == []
