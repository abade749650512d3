"""The stack configuration, read once from `Pulumi.<stack>.yaml` into a validated frozen model."""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

PROJECT = "utp"
STACKS = ("staging", "production")
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """The stack configuration is invalid; the message names the key and what is wrong."""


@dataclass(frozen=True, slots=True)
class SecretValue:
    """A `secure:` config value. Offline it holds only a placeholder; repr never shows it."""

    value: str
    offline: bool = False

    def __repr__(self) -> str:
        return "SecretValue('[secret]')"


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    primary_cidr: str = "10.10.0.0/16"
    dr_cidr: str = "10.20.0.0/16"
    # "per-az" keeps egress alive when one AZ fails; "single" is the cheap staging choice.
    nat_gateways: Literal["single", "per-az"] = "per-az"
    flow_log_retention_days: int = 365


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    kubernetes_version: str = "1.35"
    # Where `pulumi up` reaches the API server from: public endpoint limited to these CIDRs
    # (the deploying runner's egress, an office), or none with `privateRunner: true` when
    # `pulumi` runs inside the VPC (self-hosted runner, VPN, bastion).
    public_access_cidrs: tuple[str, ...] = ()
    private_runner: bool = False
    # The role `pulumi up` runs as (CI's deploy role): every Kubernetes resource is created
    # with it, and EKS grants the cluster creator nothing, so it gets an admin access entry.
    deploy_role_arn: str = ""
    instance_types: tuple[str, ...] = ("m6i.large",)
    min_nodes: int = 3
    desired_nodes: int = 3
    max_nodes: int = 6
    dr_min_nodes: int = 2
    dr_desired_nodes: int = 2
    dr_max_nodes: int = 6
    node_disk_gib: int = 50
    # The interruptible SPOT pool (scales from zero, tainted: the service never runs there);
    # empty turns it off. Several types spread it over more spot capacity pools.
    spot_instance_types: tuple[str, ...] = ("m6i.large", "m6a.large", "m5.large")
    spot_max_nodes: int = 4
    log_retention_days: int = 90
    # More IAM roles given cluster-admin through EKS access entries (people, break-glass).
    admin_role_arns: tuple[str, ...] = ()

    @property
    def cluster_admins(self) -> tuple[str, ...]:
        """Every role with an AmazonEKSClusterAdminPolicy access entry, the deploy role first."""
        return tuple(dict.fromkeys([self.deploy_role_arn, *self.admin_role_arns]))


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    instance_class: str = "db.r6g.large"
    replica_instance_class: str = "db.r6g.large"
    allocated_storage_gib: int = 100
    max_allocated_storage_gib: int = 1000
    backup_retention_days: int = 30
    # Major version only (RDS applies minor upgrades itself; see infra/database.py).
    engine_version: str = "16"
    name: str = "utp"
    username: str = "utp_admin"
    # Bump (1 -> 2) to rotate the master password on the next `pulumi up`.
    password_rotation: int = 1


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    node_type: str = "cache.r7g.large"
    nodes: int = 3
    snapshot_retention_days: int = 7
    engine_version: str = "7.1"


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    image_tag: str
    min_replicas: int = 2
    max_replicas: int = 10
    dr_max_replicas: int = 4
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    # `utp serve` is 505-530 MB when ready and ~560 MB after load, most of it lingua's
    # detection models (README "Language detection", bench/README.md). The HPA scales out
    # at 80 % of the request, and this memory does not grow with load: 768Mi keeps a pod at
    # rest at ~70 %, below that line (512Mi had every pod above it from start-up).
    memory_request: str = "768Mi"
    memory_limit: str = "1Gi"
    log_level: str = "INFO"
    backup_schedule: str = "0 */4 * * *"


@dataclass(frozen=True, kw_only=True)
class DnsConfig:
    zone: str
    api_hostname: str
    acme_email: str
    acme_staging: bool = False


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    """The ALB's WAF (infra/edge.py). Shield Standard is always on; Advanced is a separate
    account subscription (about $3,000 a month, one year), bought first, then enabled here."""

    shield_advanced: bool = False
    # Requests per client IP per 5 minutes before WAF blocks the client (Traefik's own limit
    # per second sits behind it).
    rate_limit_per_5_minutes: int = 2000


@dataclass(frozen=True, kw_only=True)
class BudgetConfig:
    monthly_usd: int
    emails: tuple[str, ...]
    # The yearly budget's limit; unset: 12 x monthlyUsd.
    yearly_usd: int | None = None

    @property
    def yearly_limit_usd(self) -> int:
        return self.yearly_usd if self.yearly_usd is not None else 12 * self.monthly_usd


@dataclass(frozen=True, kw_only=True)
class ProviderKeys:
    """Translation provider API keys; each is optional and set with `pulumi config set --secret`."""

    deepl: SecretValue | None = None
    google: SecretValue | None = None
    openai: SecretValue | None = None
    anthropic: SecretValue | None = None


@dataclass(frozen=True, kw_only=True)
class AlertingConfig:
    """Alertmanager receivers. Without `slackWebhookUrl` every alert goes to the null receiver
    (shown in Alertmanager and Grafana, never sent); the URL and the routing key are secrets."""

    slack_webhook_url: SecretValue | None = None
    pagerduty_routing_key: SecretValue | None = None
    warning_channel: str = "#utp-alerts"
    critical_channel: str = "#utp-incidents"
    # Prefix for the rules' relative runbook links (docs/operations.md#...).
    runbook_base_url: str = ""

    @property
    def configured(self) -> bool:
        return self.slack_webhook_url is not None


ALERTING_SECRETS = ("slackWebhookUrl", "pagerdutyRoutingKey")


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    environment: Literal["staging", "production"]
    primary_region: str = "us-east-1"
    dr_region: str = "us-west-2"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    service: ServiceConfig
    dns: DnsConfig
    budget: BudgetConfig
    provider_keys: ProviderKeys = field(default_factory=ProviderKeys)
    alerting: AlertingConfig = field(default_factory=AlertingConfig)
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    log_retention_days: int = 30

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def regions(self) -> tuple[str, str]:
        return (self.primary_region, self.dr_region)

    @property
    def image_repository(self) -> str:
        """The ECR repository the stack creates and pulls from, and CI pushes to
        (`utp-infra image-repository`): the one place its name is decided."""
        return f"{PROJECT}-{self.environment}/service"


_REGION = re.compile(r"^[a-z]{2}-[a-z]+-\d$")
# Access entries take IAM role ARNs, not the STS assumed-role ARN a session reports.
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _build(cls: type[Any], raw: Any, path: str) -> Any:
    if isinstance(raw, str):
        raw = _json(raw, path)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {_camel(f.name): f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}.{key}: unknown key{hint}; allowed: {', '.join(sorted(fields))}")
    values: dict[str, Any] = {}
    for key, f in fields.items():
        if key in raw:
            values[f.name] = _coerce(hints[f.name], raw[key], f"{path}.{key}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}.{key}: required key is missing")
    return cls(**values)


def _json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: expected structured config, got {text!r}") from None


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return None if value is None else _coerce(inner[0], value, path)
    if hint is SecretValue:
        if isinstance(value, SecretValue):
            return value
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            return SecretValue(value=f"[secret {path}]", offline=True)
        raise ConfigError(f"{path}: must be a secret (`pulumi config set --secret {path} ...`)")
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, path)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(map(str, args))
            raise ConfigError(f"{path}: must be one of {allowed}, not {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = _json(value, path)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        return tuple(_coerce(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise ConfigError(f"{path}: must be true or false, not {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{path}: must be a whole number, not {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: must be a whole number, not {value!r}") from None
        if number < 0:
            raise ConfigError(f"{path}: must not be negative")
        return number
    if hint is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: must be a string, not {value!r}")
        return str(value)
    raise ConfigError(f"{path}: unsupported type {hint!r}")  # pragma: no cover


def _validate(cfg: StackConfig) -> None:
    problems: list[str] = []
    for key, region in (("primaryRegion", cfg.primary_region), ("drRegion", cfg.dr_region)):
        if not _REGION.match(region):
            problems.append(f"utp:{key}: {region!r} is not an AWS region name")
    if cfg.primary_region == cfg.dr_region:
        problems.append("utp:drRegion: must differ from utp:primaryRegion")
    nets = []
    for key, cidr in (("primaryCidr", cfg.network.primary_cidr), ("drCidr", cfg.network.dr_cidr)):
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            problems.append(f"utp:network.{key}: {cidr!r} is not a CIDR block")
            continue
        if net.prefixlen > 18:
            problems.append(f"utp:network.{key}: {cidr} is too small (needs /18 or larger)")
        nets.append(net)
    if len(nets) == 2 and nets[0].overlaps(nets[1]):
        problems.append(
            "utp:network: primaryCidr and drCidr overlap (they must be distinct ranges)"
        )
    for cidr in cfg.cluster.public_access_cidrs:
        try:
            if ipaddress.ip_network(cidr).prefixlen == 0:
                problems.append("utp:cluster.publicAccessCidrs: 0.0.0.0/0 exposes the API server")
        except ValueError:
            problems.append(f"utp:cluster.publicAccessCidrs: {cidr!r} is not a CIDR block")
    c = cfg.cluster
    problems.extend(_cluster_access_problems(c))
    if not (2 <= c.min_nodes <= c.desired_nodes <= c.max_nodes):
        problems.append("utp:cluster: need 2 <= minNodes <= desiredNodes <= maxNodes")
    if not (2 <= c.dr_min_nodes <= c.dr_desired_nodes <= c.dr_max_nodes):
        problems.append("utp:cluster: need 2 <= drMinNodes <= drDesiredNodes <= drMaxNodes")
    if not 1 <= cfg.database.backup_retention_days <= 35:
        problems.append("utp:database.backupRetentionDays: must be 1..35")
    if cfg.database.engine_version != "16":
        problems.append(
            "utp:database.engineVersion: must be the major version 16 (the service is built for"
            " PostgreSQL 16; RDS applies minor upgrades, so a pinned minor becomes a downgrade)"
        )
    if cfg.database.max_allocated_storage_gib < cfg.database.allocated_storage_gib:
        problems.append("utp:database.maxAllocatedStorageGib: below allocatedStorageGib")
    if cfg.cache.nodes < 2:
        problems.append("utp:cache.nodes: at least 2 for Multi-AZ automatic failover")
    s = cfg.service
    if not _TAG.match(s.image_tag) or s.image_tag == "latest":
        problems.append(f"utp:service.imageTag: {s.image_tag!r} must be a pinned tag, not latest")
    if not (2 <= s.min_replicas <= s.max_replicas):
        problems.append("utp:service: need 2 <= minReplicas <= maxReplicas")
    for key, host in (("zone", cfg.dns.zone), ("apiHostname", cfg.dns.api_hostname)):
        if not _HOST.match(host):
            problems.append(f"utp:dns.{key}: {host!r} is not a DNS name")
    if not cfg.dns.api_hostname.endswith("." + cfg.dns.zone):
        problems.append("utp:dns.apiHostname: must be inside utp:dns.zone")
    if "@" not in cfg.dns.acme_email:
        problems.append("utp:dns.acmeEmail: must be an email address")
    if not cfg.budget.emails or any("@" not in e for e in cfg.budget.emails):
        problems.append("utp:budget.emails: at least one email address")
    if cfg.budget.monthly_usd <= 0:
        problems.append("utp:budget.monthlyUsd: must be positive")
    if cfg.budget.yearly_limit_usd < cfg.budget.monthly_usd:
        problems.append("utp:budget.yearlyUsd: must be at least monthlyUsd")
    problems.extend(_alerting_problems(cfg.alerting))
    if not 10 <= cfg.edge.rate_limit_per_5_minutes <= 2_000_000_000:
        problems.append("utp:edge.rateLimitPer5Minutes: WAF accepts 10..2,000,000,000")
    if cfg.production:
        if cfg.database.backup_retention_days < 30:
            problems.append("utp:database.backupRetentionDays: production keeps >= 30 days")
        if cfg.network.nat_gateways != "per-az":
            problems.append("utp:network.natGateways: production needs one NAT per AZ")
    if problems:
        raise ConfigError("; ".join(problems))


def _cluster_access_problems(c: ClusterConfig) -> list[str]:
    """A config `pulumi up` could never finish with: nobody may, or can, reach the API server."""
    problems: list[str] = []
    if not c.deploy_role_arn:
        problems.append(
            "utp:cluster.deployRoleArn: required — the IAM role `pulumi up` runs as; EKS gives"
            " the cluster creator no access, so without an access entry every Kubernetes"
            " resource fails"
        )
    for key, arns in (
        ("deployRoleArn", (c.deploy_role_arn,) if c.deploy_role_arn else ()),
        ("adminRoleArns", c.admin_role_arns),
    ):
        for arn in arns:
            if not _ROLE_ARN.match(arn):
                problems.append(
                    f"utp:cluster.{key}: {arn!r} is not an IAM role ARN"
                    " (arn:aws:iam::<account>:role/<name>)"
                )
    if not c.public_access_cidrs and not c.private_runner:
        problems.append(
            "utp:cluster: no way to reach the API server — list the deploying runner's egress"
            " in publicAccessCidrs, or set privateRunner: true when `pulumi` runs inside the VPC"
        )
    if c.public_access_cidrs and c.private_runner:
        problems.append("utp:cluster: privateRunner and publicAccessCidrs exclude each other")
    return problems


def _alerting_problems(alerting: AlertingConfig) -> list[str]:
    problems: list[str] = []
    url = alerting.slack_webhook_url
    if url is not None and not url.offline and not url.value.startswith("https://"):
        problems.append(
            "utp:alerting.slackWebhookUrl: must be an https:// Slack incoming-webhook URL"
        )
    if alerting.pagerduty_routing_key is not None and url is None:
        problems.append(
            "utp:alerting.pagerdutyRoutingKey: also set utp:alerting.slackWebhookUrl (critical"
            " alerts go to Slack and the pager; warnings only to Slack)"
        )
    base = alerting.runbook_base_url
    if base and not base.startswith("https://"):
        problems.append(
            f"utp:alerting.runbookBaseUrl: {base!r} must be an https:// URL (the repository's"
            " blob URL on the default branch)"
        )
    for key, channel in (
        ("warningChannel", alerting.warning_channel),
        ("criticalChannel", alerting.critical_channel),
    ):
        if not channel.startswith("#") or len(channel) < 2:
            problems.append(f"utp:alerting.{key}: {channel!r} must be a Slack channel (#name)")
    return problems


def parse_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate `project:key` config (values structured, or JSON strings as the engine sends)."""
    prefix = PROJECT + ":"
    # The engine passes the stack file merged with Pulumi.yaml's `config:`, so keys of other
    # namespaces (`pulumi:disable-default-providers`, `aws:*` for default providers) arrive
    # here too: they belong to the engine and the providers, not to this program.
    _check_engine_keys(raw)
    body = {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}
    cfg = _build(StackConfig, body, PROJECT)
    assert isinstance(cfg, StackConfig)
    _validate(cfg)
    return cfg


def _check_engine_keys(raw: Mapping[str, Any]) -> None:
    """Validate the foreign keys whose meaning this program relies on; ignore the others."""
    key = "pulumi:disable-default-providers"
    if key not in raw:
        return
    value = raw[key]
    if isinstance(value, Mapping) and set(value) == {"value"}:
        value = value["value"]  # Pulumi.yaml's `key: {value: ...}` form
    if isinstance(value, str):
        value = _json(value, key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of provider names, got {value!r}")


def stack_file(stack: str, root: Path = REPO_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def load_stack_config(stack: str, root: Path = REPO_ROOT) -> StackConfig:
    """Read `Pulumi.<stack>.yaml` offline (secure values become placeholders)."""
    path = stack_file(stack, root)
    if not path.is_file():
        raise ConfigError(f"{path.name}: no such stack file (stacks: {', '.join(STACKS)})")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - {"config", "secretsprovider", "encryptionsalt"}:
        raise ConfigError(f"{path.name}: expected a top-level `config:` mapping")
    try:
        return parse_config(doc.get("config") or {})
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def load_engine_config() -> StackConfig:
    """Read the config the Pulumi engine passed to this program run (`pulumi up/preview`)."""
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | {
        k for k in raw if runtime_config.is_config_secret(k)
    }
    provider_prefix = f"{PROJECT}:providerKeys"
    alerting_prefix = f"{PROJECT}:alerting"
    for key in list(raw):
        if key == provider_prefix and isinstance(raw[key], str):
            # The whole object is secret when any of its values is.
            keys = json.loads(raw[key])
            raw[key] = {k: SecretValue(value=str(v)) for k, v in keys.items()}
        elif key == alerting_prefix and key in secret_keys and isinstance(raw[key], str):
            # Secret as a whole too; only its URL and key are secrets, the rest is plain.
            values = _json(raw[key], key)
            if not isinstance(values, dict):
                raise ConfigError(f"{key}: expected a mapping")
            raw[key] = {
                k: SecretValue(value=str(v)) if k in ALERTING_SECRETS and v is not None else v
                for k, v in values.items()
            }
        elif key in secret_keys:
            raise ConfigError(f"{key}: only utp:providerKeys and utp:alerting may hold secrets")
    return parse_config(raw)
