"""`UTP_*` variables become typed settings; a bad value is refused naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError


def test_text_becomes_numbers_switches_lists_choices_and_paths() -> None:
    settings = Settings.from_env(
        {
            "UTP_PORT": " 9000 ",
            "UTP_REDIS_RETRY_SECONDS": "2",
            "UTP_BUDGET_SOFT_LIMIT_RATIO": "0.5",
            "UTP_LOG_MESSAGE_TEXT": "On",
            "UTP_DATABASE_ECHO": "",
            "UTP_APERTIUM_ENABLED": "no",
            "UTP_PROVIDER_ORDER": " apertium, ,deepl ",
            "UTP_DEFAULT_QUALITY_TIER": "premium",
            "UTP_DATA_DIR": "/srv/utp ",
            "UTP_SECRET_KEY": " s3cret ",
        }
    )
    assert settings.server.port == 9000
    assert settings.cache.redis_retry_seconds == 2.0
    assert settings.usage.budget_soft_limit_ratio == 0.5
    assert settings.server.log_message_text is True
    assert settings.database.database_echo is False
    assert settings.providers.apertium_enabled is False
    assert settings.providers.provider_order == ("apertium", "deepl")
    assert settings.providers.default_quality_tier == "premium"
    assert settings.server.data_dir == Path("/srv/utp")
    assert settings.security.secret_key.get() == "s3cret"
    # Unset variables keep their defaults.
    assert settings.server.host == "127.0.0.1"
    assert settings.limits.max_text_chars == 10_000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UTP_PORT": "eighty"}, "UTP_PORT must be a number, not 'eighty'"),
        ({"UTP_CACHE_TTL_SECONDS": "1.5"}, "UTP_CACHE_TTL_SECONDS must be a number, not '1.5'"),
        (
            {"UTP_LLM_TIMEOUT_SECONDS": "soon"},
            "UTP_LLM_TIMEOUT_SECONDS must be a number, not 'soon'",
        ),
        ({"UTP_MAX_BATCH_ITEMS": "-1"}, "UTP_MAX_BATCH_ITEMS must not be negative"),
        ({"UTP_REDIS_TIMEOUT_SECONDS": "-0.25"}, "UTP_REDIS_TIMEOUT_SECONDS must not be negative"),
        (
            {"UTP_LOG_MESSAGE_TEXT": "maybe"},
            "UTP_LOG_MESSAGE_TEXT must be true or false, not 'maybe'",
        ),
        (
            {"UTP_ENVIRONMENT": "prod"},
            "UTP_ENVIRONMENT must be one of development, production, test, not 'prod'",
        ),
        (
            {"UTP_SCHEMA_ENABLED": "yes"},
            "UTP_SCHEMA_ENABLED must be one of auto, true, false, not 'yes'",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert str(refused.value) == message
