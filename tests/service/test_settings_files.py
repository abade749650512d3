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


def test_the_database_url_comes_from_its_file_and_the_file_is_remembered(tmp_path: Path) -> None:
    """Not a Secret by type but it carries the password; the engine re-reads the file."""
    url = tmp_path / "utp_database_url"
    url.write_text("postgresql://utp:p%40ss@db:5432/utp\n")
    settings = Settings.from_env({"UTP_DATABASE_URL_FILE": str(url)})
    assert settings.database_url == "postgresql+asyncpg://utp:p%40ss@db:5432/utp"
    assert settings.database_credentials_file == url
    assert (
        Settings.from_env({"UTP_DATABASE_URL": "postgresql://u@h/d"}).database_credentials_file
        is None
    )
    with pytest.raises(SettingsError, match="UTP_DATABASE_URL or UTP_DATABASE_URL_FILE, not both"):
        Settings.from_env(
            {"UTP_DATABASE_URL": "postgresql://u@h/d", "UTP_DATABASE_URL_FILE": str(url)}
        )


def test_the_database_credentials_are_read_decoded_and_a_bad_file_never_quotes_itself(
    tmp_path: Path,
) -> None:
    from service.db.credentials import read_credentials

    url = tmp_path / "url"
    url.write_text("postgres://utp:n3w%2Fp%40ss@db:5432/utp?ssl=verify-full\n")
    assert read_credentials(url) == ("utp", "n3w/p@ss")
    url.write_text("hunter2-is-not-a-url")
    with pytest.raises(ValueError, match="not a database URL") as refused:
        read_credentials(url)
    assert "hunter2" not in str(refused.value)


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
