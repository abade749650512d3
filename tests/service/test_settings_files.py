"""Secrets read from files (`UTP_<NAME>_FILE`), as Docker Compose mounts them."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError


def test_a_secret_comes_from_its_file_without_the_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "utp_secret_key"
    secret.write_text("s" * 40 + "\n")
    redis = tmp_path / "redis_url"
    redis.write_text("redis://:p%40ss@cache:6379/0")
    settings = Settings.from_env(
        {"UTP_SECRET_KEY_FILE": str(secret), "UTP_REDIS_URL_FILE": str(redis)}
    )
    assert settings.security.secret_key.get() == "s" * 40
    assert settings.cache.redis_url.get() == "redis://:p%40ss@cache:6379/0"


def test_a_missing_file_is_named_in_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"UTP_SECRET_KEY_FILE: cannot read .*nope"):
        Settings.from_env({"UTP_SECRET_KEY_FILE": str(tmp_path / "nope")})


def test_the_variable_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "k"
    secret.write_text("x" * 40)
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"UTP_SECRET_KEY": "y" * 40, "UTP_SECRET_KEY_FILE": str(secret)})


def test_only_secrets_are_read_from_files(tmp_path: Path) -> None:
    port = tmp_path / "port"
    port.write_text("9999")
    assert Settings.from_env({"UTP_PORT_FILE": str(port)}).server.port == 8000


def test_an_empty_variable_leaves_the_file_in_charge(tmp_path: Path) -> None:
    # .env.production.example lists every secret empty; a copy used as an env file must not
    # make the *_FILE secrets ambiguous.
    secret = tmp_path / "k"
    secret.write_text("z" * 40)
    settings = Settings.from_env({"UTP_SECRET_KEY": "", "UTP_SECRET_KEY_FILE": str(secret)})
    assert settings.security.secret_key.get() == "z" * 40
