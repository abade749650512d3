"""The stack files parse into the typed config; mistakes fail with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.config import STACKS, ConfigError, SecretValue, load_stack_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def _raw(stack: str) -> dict[str, object]:
    return dict(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_parse(stack):
    cfg = load_stack_config(stack)
    assert cfg.environment == stack
    assert cfg.regions == ("us-east-1", "us-west-2")


def test_production_is_sized_and_staging_is_cheap():
    prod, stg = load_stack_config("production"), load_stack_config("staging")
    assert prod.production and not stg.production
    assert prod.network.nat_gateways == "per-az" and stg.network.nat_gateways == "single"
    assert prod.database.backup_retention_days == 30 and stg.database.backup_retention_days == 7
    # The overview's promise: production never runs fewer than 3 API replicas (HPA 3-10).
    assert (prod.service.min_replicas, prod.service.max_replicas) == (3, 10)


def test_misspelt_key_is_named_with_a_suggestion():
    raw = _raw("staging")
    raw["utp:database"] = {**raw["utp:database"], "instanceClas": "db.t4g.micro"}  # type: ignore[dict-item]
    with pytest.raises(
        ConfigError, match=r"utp\.database\.instanceClas: unknown key.*instanceClass"
    ):
        parse_config(raw)


def test_unknown_top_level_and_foreign_keys_rejected():
    raw = _raw("staging")
    with pytest.raises(ConfigError, match=r"utp\.colour"):
        parse_config({**raw, "utp:colour": "blue"})
    with pytest.raises(ConfigError, match="aws:region"):
        parse_config({**raw, "aws:region": "us-east-1"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("utp:environment", "prod", "must be one of staging, production"),
        ("utp:drRegion", "us-east-1", "must differ"),
        ("utp:service", {"imageTag": "latest"}, "pinned tag"),
        ("utp:cache", {"nodes": 1}, "at least 2"),
        ("utp:cluster", {"publicAccessCidrs": ["0.0.0.0/0"]}, "exposes the API server"),
    ],
)
def test_invalid_values_fail_clearly(key, value, message):
    raw = _raw("staging")
    if isinstance(value, dict) and isinstance(raw.get(key), dict):
        value = {**raw[key], **value}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=message):
        parse_config({**raw, key: value})


def test_production_refuses_short_retention():
    raw = _raw("production")
    raw["utp:database"] = {**raw["utp:database"], "backupRetentionDays": 7}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r">= 30 days"):
        parse_config(raw)


def test_engine_json_strings_and_secure_values():
    raw = dict(_raw("staging"))
    import json

    raw["utp:database"] = json.dumps(raw["utp:database"])
    raw["utp:providerKeys"] = {"deepl": {"secure": "v1:abc"}}
    cfg = parse_config(raw)
    assert cfg.database.instance_class == "db.t4g.medium"
    assert isinstance(cfg.provider_keys.deepl, SecretValue)
    assert "abc" not in repr(cfg.provider_keys)
    with pytest.raises(ConfigError, match="must be a secret"):
        parse_config({**raw, "utp:providerKeys": {"openai": "sk-plain"}})


def test_missing_stack_file(tmp_path):
    with pytest.raises(ConfigError, match="no such stack file"):
        load_stack_config("staging", root=tmp_path)


def test_alerting_receivers_are_optional_secrets():
    raw = _raw("staging")
    assert not parse_config(raw).alerting.configured  # the stack files set none: null receiver
    cfg = parse_config(
        {
            **raw,
            "utp:alerting": {
                "slackWebhookUrl": {"secure": "v1:abc"},
                "pagerdutyRoutingKey": {"secure": "v1:def"},
                "runbookBaseUrl": "https://github.com/example/utp/blob/main",
            },
        }
    )
    assert cfg.alerting.configured
    assert isinstance(cfg.alerting.pagerduty_routing_key, SecretValue)
    assert "abc" not in repr(cfg.alerting)


@pytest.mark.parametrize(
    ("alerting", "message"),
    [
        ({"slackWebhookUrl": "https://hooks.slack.com/x"}, r"slackWebhookUrl: must be a secret"),
        ({"pagerdutyRoutingKey": {"secure": "v1:x"}}, r"also set utp:alerting\.slackWebhookUrl"),
        ({"runbookBaseUrl": "github.com/x"}, r"runbookBaseUrl.*https://"),
        ({"warningChannel": "alerts"}, r"warningChannel.*#name"),
        ({"slackWebhok": {"secure": "v1:x"}}, r"did you mean 'slackWebhookUrl'"),
    ],
)
def test_alerting_mistakes_fail_clearly(alerting, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({**_raw("staging"), "utp:alerting": alerting})


def test_engine_alerting_secrets_stay_secret(monkeypatch):
    """`pulumi config set --secret --path utp:alerting.slackWebhookUrl` makes the whole object
    secret for the engine; only the URL and key become SecretValues, the rest stays plain."""
    import json

    from stacks.config import load_engine_config

    raw = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in _raw("staging").items()}
    alerting = {
        "slackWebhookUrl": "https://hooks.slack.com/services/T/B/real",
        "runbookBaseUrl": "https://github.com/example/utp/blob/main",
    }
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**raw, "utp:alerting": json.dumps(alerting)}))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["utp:alerting"]))
    cfg = load_engine_config()
    url = cfg.alerting.slack_webhook_url
    assert isinstance(url, SecretValue) and not url.offline
    assert url.value == alerting["slackWebhookUrl"]
    assert cfg.alerting.runbook_base_url == alerting["runbookBaseUrl"]
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps({**raw, "utp:alerting": json.dumps({"slackWebhookUrl": "http://plain"})}),
    )
    with pytest.raises(ConfigError, match="https://"):
        load_engine_config()
