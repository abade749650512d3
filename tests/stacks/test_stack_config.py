"""The stack files parse into the typed config; mistakes fail with a message naming the key."""

from __future__ import annotations

import json
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


def test_unknown_utp_keys_rejected_and_other_namespaces_left_to_the_engine():
    raw = _raw("staging")
    with pytest.raises(ConfigError, match=r"utp\.colour"):
        parse_config({**raw, "utp:colour": "blue"})
    # Keys of the engine and the providers reach the program too; they are not its business.
    cfg = parse_config({**raw, "aws:region": "us-east-1", "pulumi:tags": '{"team": "platform"}'})
    assert cfg.environment == "staging"
    with pytest.raises(ConfigError, match="disable-default-providers: expected a list"):
        parse_config({**raw, "pulumi:disable-default-providers": '"*"'})


@pytest.mark.parametrize("stack", STACKS)
def test_config_as_the_engine_passes_it_loads(stack):
    """PULUMI_CONFIG is the stack file merged with Pulumi.yaml's `config:`, values as strings."""
    from stacks.engine_config import engine_config, load_as_engine

    config, secret_keys = engine_config(stack)
    assert config["pulumi:disable-default-providers"] == '["*"]'
    assert json.loads(config["utp:cluster"])["instanceTypes"]
    assert secret_keys == []
    assert load_as_engine(stack) == load_stack_config(stack)


def test_engine_secrets_are_listed_and_decrypted_offline(tmp_path):
    from stacks.engine_config import engine_config, load_as_engine

    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    doc["config"]["utp:providerKeys"] = {"deepl": {"secure": "v1:abc"}}
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(doc))
    config, secret_keys = engine_config("staging", tmp_path)
    assert secret_keys == ["utp:providerKeys"]
    assert "v1:abc" not in config["utp:providerKeys"]
    assert isinstance(load_as_engine("staging", tmp_path).provider_keys.deepl, SecretValue)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("utp:environment", "prod", "must be one of staging, production"),
        ("utp:drRegion", "us-east-1", "must differ"),
        ("utp:service", {"imageTag": "latest"}, "pinned tag"),
        ("utp:cache", {"nodes": 1}, "at least 2"),
        ("utp:cluster", {"publicAccessCidrs": ["0.0.0.0/0"]}, "exposes the API server"),
        ("utp:budget", {"yearlyUsd": 100}, "yearlyUsd: must be at least monthlyUsd"),
    ],
)
def test_invalid_values_fail_clearly(key, value, message):
    raw = _raw("staging")
    if isinstance(value, dict) and isinstance(raw.get(key), dict):
        value = {**raw[key], **value}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=message):
        parse_config({**raw, key: value})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deployRoleArn": None}, r"deployRoleArn: required"),
        ({"publicAccessCidrs": None}, r"no way to reach the API server"),
        ({"privateRunner": True}, r"exclude each other"),
        (
            {"deployRoleArn": "arn:aws:sts::111122223333:assumed-role/deploy/ci"},
            r"deployRoleArn: .* is not an IAM role ARN",
        ),
    ],
)
def test_config_with_no_way_into_the_cluster_is_refused(change, message):
    raw = _raw("staging")
    cluster = {**raw["utp:cluster"], **change}  # type: ignore[dict-item]
    cluster = {k: v for k, v in cluster.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        parse_config({**raw, "utp:cluster": cluster})


def test_private_runner_is_a_way_in():
    raw = _raw("staging")
    cluster = {k: v for k, v in raw["utp:cluster"].items() if k != "publicAccessCidrs"}  # type: ignore[union-attr]
    cfg = parse_config({**raw, "utp:cluster": {**cluster, "privateRunner": True}})
    assert cfg.cluster.private_runner and not cfg.cluster.public_access_cidrs


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


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        # Unknown keys, at the top level and in a group, with the keys that are allowed.
        ("utp:clusterr", "x", "utp.clusterr: unknown key (did you mean 'cluster'?); allowed: "),
        ("utp:cache", {"colour": "red"}, "utp.cache.colour: unknown key; allowed: engineVersion,"),
        # Wrong types name the key and repeat the value given.
        (
            "utp:cluster",
            {"minNodes": "three"},
            "utp.cluster.minNodes: must be a whole number, not 'three'",
        ),
        (
            "utp:cluster",
            {"minNodes": True},
            "utp.cluster.minNodes: must be a whole number, not True",
        ),
        (
            "utp:cluster",
            {"privateRunner": "yes"},
            "utp.cluster.privateRunner: must be true or false, not 'yes'",
        ),
        (
            "utp:cluster",
            {"kubernetesVersion": ["1"]},
            "utp.cluster.kubernetesVersion: must be a string, not ['1']",
        ),
        (
            "utp:cluster",
            {"instanceTypes": [["t3.large"]]},
            "utp.cluster.instanceTypes[0]: must be a string, not ['t3.large']",
        ),
        (
            "utp:cluster",
            {"instanceTypes": 3},
            "utp.cluster.instanceTypes: expected a list, got int",
        ),
        ("utp:network", ["single"], "utp.network: expected a mapping, got list"),
        ("utp:network", "single", "utp.network: expected structured config, got 'single'"),
        (
            "utp:network",
            {"natGateways": "many"},
            "utp.network.natGateways: must be one of single, per-az, not 'many'",
        ),
        ("utp:service", {"imageTag": None}, "utp.service.imageTag: must be a string, not None"),
        # Values out of range.
        ("utp:cluster", {"maxNodes": -1}, "utp.cluster.maxNodes: must not be negative"),
        ("utp:logRetentionDays", "-1", "utp.logRetentionDays: must not be negative"),
        (
            "utp:database",
            {"backupRetentionDays": 36},
            "utp:database.backupRetentionDays: must be 1..35",
        ),
        (
            "utp:database",
            {"backupRetentionDays": 0},
            "utp:database.backupRetentionDays: must be 1..35",
        ),
        (
            "utp:edge",
            {"rateLimitPer5Minutes": 9},
            "utp:edge.rateLimitPer5Minutes: WAF accepts 10..2,000,000,000",
        ),
        ("utp:budget", {"monthlyUsd": 0}, "utp:budget.monthlyUsd: must be positive"),
        ("utp:primaryRegion", "mars", "utp:primaryRegion: 'mars' is not an AWS region name"),
        ("utp:dns", {"zone": "Example.COM"}, "utp:dns.zone: 'Example.COM' is not a DNS name"),
        (
            "utp:service",
            {"imageTag": "latest"},
            "utp:service.imageTag: 'latest' must be a pinned tag, not latest",
        ),
        (
            "utp:alerting",
            {"criticalChannel": "pager"},
            "utp:alerting.criticalChannel: 'pager' must be a Slack channel (#name)",
        ),
    ],
)
def test_what_a_user_is_told_about_a_wrong_key_type_or_range(key, change, message):
    raw = _raw("staging")
    value = {**raw[key], **change} if isinstance(change, dict) and key in raw else change  # type: ignore[dict-item]
    with pytest.raises(ConfigError) as refused:
        parse_config({**raw, key: value})
    assert str(refused.value).startswith(message)


def test_a_missing_group_or_key_is_named():
    raw = _raw("staging")
    del raw["utp:dns"]
    with pytest.raises(ConfigError, match=r"^utp\.dns: required key is missing$"):
        parse_config(raw)
    service = {k: v for k, v in raw["utp:service"].items() if k != "imageTag"}  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"^utp\.service\.imageTag: required key is missing$"):
        parse_config({**_raw("staging"), "utp:service": service})


def test_numbers_where_text_belongs_and_lists_as_json_text_are_taken():
    """`pulumi config set --path` stores `16` as a number and a list as its JSON text."""
    raw = _raw("staging")
    cfg = parse_config(
        {
            **raw,
            "utp:logRetentionDays": "21",  # the engine's scalars are strings
            "utp:database": {**raw["utp:database"], "engineVersion": 16},  # type: ignore[dict-item]
            "utp:cluster": {
                **raw["utp:cluster"],  # type: ignore[dict-item]
                "kubernetesVersion": 1.35,
                "publicAccessCidrs": '["198.51.100.0/28"]',
                "privateRunner": "false",
            },
        }
    )
    assert cfg.log_retention_days == 21
    assert cfg.database.engine_version == "16"
    assert cfg.cluster.kubernetes_version == "1.35"
    assert cfg.cluster.public_access_cidrs == ("198.51.100.0/28",)


def test_a_secret_is_only_ever_a_secure_value():
    raw = _raw("staging")
    cfg = parse_config({**raw, "utp:providerKeys": {"google": {"secure": "v1:abc"}}})
    assert cfg.provider_keys.google == SecretValue("[secret utp.providerKeys.google]", True)
    assert hash(cfg) == hash(parse_config({**raw, "utp:providerKeys": {"google": {"secure": "x"}}}))
    # A mapping shaped like the model's own fields is still plain text in the stack file.
    with pytest.raises(ConfigError, match=r"^utp\.providerKeys\.google: must be a secret"):
        parse_config({**raw, "utp:providerKeys": {"google": {"value": "AIza-plain"}}})
