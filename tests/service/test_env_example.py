"""`.env.production.example` lists every setting, holds no secret, and loads as production."""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets
import typing
from pathlib import Path

from service.settings import GROUPS, PREFIX, Secret, Settings, env_var_names

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.production.example"
LINE = re.compile(r"^(#\s*)?(UTP_[A-Z0-9_]+)=(.*)$")


def _entries() -> list[tuple[bool, str, str]]:
    """(set, name, value) per setting line; `set` is False for a commented default."""
    found = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line.strip())
        if match:
            found.append((match.group(1) is None, match.group(2), match.group(3).strip()))
    return found


def _secret_names() -> set[str]:
    return {
        PREFIX + f.name.upper()
        for group in GROUPS
        for f in dataclasses.fields(group)
        if typing.get_type_hints(group)[f.name] is Secret
    }


def test_every_setting_is_listed_once_and_nothing_else() -> None:
    names = [name for _, name, _ in _entries()]
    assert len(names) == len(set(names)), "a setting is listed twice"
    missing = env_var_names() - set(names)
    unknown = set(names) - env_var_names()
    assert not missing, f"add to .env.production.example: {sorted(missing)}"
    assert not unknown, f"no such setting in service/settings.py: {sorted(unknown)}"


def test_no_secret_has_a_value() -> None:
    secret_names = _secret_names()
    assert "UTP_SECRET_KEY" in secret_names and "UTP_REDIS_URL" in secret_names
    filled = [name for _, name, value in _entries() if name in secret_names and value]
    assert not filled, f"secrets must stay empty in the example: {filled}"
    database = {name: value for _, name, value in _entries()}["UTP_DATABASE_URL"]
    assert database == "", "the database URL carries a password: keep it empty"


def test_the_set_lines_load_as_production_once_the_secrets_are_filled_in() -> None:
    env = {name: value for is_set, name, value in _entries() if is_set and value}
    env.update(
        UTP_SECRET_KEY=secrets.token_urlsafe(48),
        UTP_ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        UTP_DATABASE_URL="postgresql://utp:pw@db.internal:5432/utp",
    )
    settings = Settings.from_env(env)
    assert settings.is_production
    assert settings.server.data_dir == Path("/var/lib/utp")
    assert settings.usage.message_retention_days == 30
