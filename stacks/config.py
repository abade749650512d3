"""The stack configuration, read once from `Pulumi.<stack>.yaml` into a validated frozen model.

The model is msgspec Structs (camelCase keys, unknown keys refused) that `msgspec.convert`
fills in; its errors are told in this module's words (`utp.database.instanceClas: unknown key
(did you mean 'instanceClass'?)`). Checks spanning several keys run after the conversion.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect as mi
import yaml

PROJECT = "utp"
STACKS = ("staging", "production")
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """The stack configuration is invalid; the message names the key and what is wrong."""


class SecretValue:
    """A `secure:` config value. Offline it holds only a placeholder; repr never shows it."""

    __slots__ = ("offline", "value")

    # Not a dataclass: msgspec would fill one in from any mapping, a plain-text
    # `{value: ...}` included; as a custom type it only passes through (see _secret_hook).
    def __init__(self, value: str, offline: bool = False) -> None:
        self.value = value
        self.offline = offline

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and (other.value, other.offline) == (
            self.value,
            self.offline,
        )

    def __hash__(self) -> int:
        return hash((self.value, self.offline))

    def __repr__(self) -> str:
        return "SecretValue('[secret]')"


_REGION = r"^[a-z]{2}-[a-z]+-\d$"
# Access entries take IAM role ARNs, not the STS assumed-role ARN a session reports.
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_TAG = r"^(?!latest$)[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
_HOST = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"

# Every number in the stack config is a count, a size or a duration.
Count = Annotated[int, msgspec.Meta(ge=0)]
Region = Annotated[str, msgspec.Meta(pattern=_REGION)]
HostName = Annotated[str, msgspec.Meta(pattern=_HOST)]
SlackChannel = Annotated[str, msgspec.Meta(pattern=r"^#.")]

# What a value outside its msgspec.Meta constraint is told, by key; any other reads
# "must not be negative" (Count).
_CONSTRAINT_MESSAGES = {
    "primaryRegion": "utp:primaryRegion: {value!r} is not an AWS region name",
    "drRegion": "utp:drRegion: {value!r} is not an AWS region name",
    "database.backupRetentionDays": "utp:database.backupRetentionDays: must be 1..35",
    "cache.nodes": "utp:cache.nodes: at least 2 for Multi-AZ automatic failover",
    "service.imageTag": "utp:service.imageTag: {value!r} must be a pinned tag, not latest",
    "dns.zone": "utp:dns.zone: {value!r} is not a DNS name",
    "dns.apiHostname": "utp:dns.apiHostname: {value!r} is not a DNS name",
    "budget.monthlyUsd": "utp:budget.monthlyUsd: must be positive",
    "edge.rateLimitPer5Minutes": "utp:edge.rateLimitPer5Minutes: WAF accepts 10..2,000,000,000",
    "alerting.runbookBaseUrl": (
        "utp:alerting.runbookBaseUrl: {value!r} must be an https:// URL (the repository's"
        " blob URL on the default branch)"
    ),
    "alerting.warningChannel": (
        "utp:alerting.warningChannel: {value!r} must be a Slack channel (#name)"
    ),
    "alerting.criticalChannel": (
        "utp:alerting.criticalChannel: {value!r} must be a Slack channel (#name)"
    ),
}


class _Group(msgspec.Struct, rename="camel", forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A `utp:<key>` object of the stack file (and the top level itself)."""


class NetworkConfig(_Group, frozen=True, kw_only=True):
    primary_cidr: str = "10.10.0.0/16"
    dr_cidr: str = "10.20.0.0/16"
    # "per-az" keeps egress alive when one AZ fails; "single" is the cheap staging choice.
    nat_gateways: Literal["single", "per-az"] = "per-az"
    flow_log_retention_days: Count = 365


class ClusterConfig(_Group, frozen=True, kw_only=True):
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
    min_nodes: Count = 3
    desired_nodes: Count = 3
    max_nodes: Count = 6
    dr_min_nodes: Count = 2
    dr_desired_nodes: Count = 2
    dr_max_nodes: Count = 6
    node_disk_gib: Count = 50
    # The interruptible SPOT pool (scales from zero, tainted: the service never runs there);
    # empty turns it off. Several types spread it over more spot capacity pools.
    spot_instance_types: tuple[str, ...] = ("m6i.large", "m6a.large", "m5.large")
    spot_max_nodes: Count = 4
    log_retention_days: Count = 90
    # More IAM roles given cluster-admin through EKS access entries (people, break-glass).
    admin_role_arns: tuple[str, ...] = ()

    @property
    def cluster_admins(self) -> tuple[str, ...]:
        """Every role with an AmazonEKSClusterAdminPolicy access entry, the deploy role first."""
        return tuple(dict.fromkeys([self.deploy_role_arn, *self.admin_role_arns]))


class DatabaseConfig(_Group, frozen=True, kw_only=True):
    instance_class: str = "db.r6g.large"
    replica_instance_class: str = "db.r6g.large"
    allocated_storage_gib: Count = 100
    max_allocated_storage_gib: Count = 1000
    backup_retention_days: Annotated[int, msgspec.Meta(ge=1, le=35)] = 30
    # Major version only (RDS applies minor upgrades itself; see infra/database.py).
    engine_version: str = "16"
    name: str = "utp"
    username: str = "utp_admin"
    # Bump (1 -> 2) to rotate the master password on the next `pulumi up`.
    password_rotation: Count = 1


class CacheConfig(_Group, frozen=True, kw_only=True):
    node_type: str = "cache.r7g.large"
    nodes: Annotated[int, msgspec.Meta(ge=2)] = 3
    snapshot_retention_days: Count = 7
    engine_version: str = "7.1"


class ServiceConfig(_Group, frozen=True, kw_only=True):
    image_tag: Annotated[str, msgspec.Meta(pattern=_TAG)]
    min_replicas: Count = 2
    max_replicas: Count = 10
    dr_max_replicas: Count = 4
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


class DnsConfig(_Group, frozen=True, kw_only=True):
    zone: HostName
    api_hostname: HostName
    acme_email: str
    acme_staging: bool = False


class EdgeConfig(_Group, frozen=True, kw_only=True):
    """The ALB's WAF (infra/edge.py). Shield Standard is always on; Advanced is a separate
    account subscription (about $3,000 a month, one year), bought first, then enabled here."""

    shield_advanced: bool = False
    # Requests per client IP per 5 minutes before WAF blocks the client (Traefik's own limit
    # per second sits behind it).
    rate_limit_per_5_minutes: Annotated[int, msgspec.Meta(ge=10, le=2_000_000_000)] = 2000


class BudgetConfig(_Group, frozen=True, kw_only=True):
    monthly_usd: Annotated[int, msgspec.Meta(gt=0)]
    emails: tuple[str, ...]
    # The yearly budget's limit; unset: 12 x monthlyUsd.
    yearly_usd: Count | None = None

    @property
    def yearly_limit_usd(self) -> int:
        return self.yearly_usd if self.yearly_usd is not None else 12 * self.monthly_usd


class ProviderKeys(_Group, frozen=True, kw_only=True):
    """Translation provider API keys; each is optional and set with `pulumi config set --secret`."""

    deepl: SecretValue | None = None
    google: SecretValue | None = None
    openai: SecretValue | None = None
    anthropic: SecretValue | None = None


class AlertingConfig(_Group, frozen=True, kw_only=True):
    """Alertmanager receivers. Without `slackWebhookUrl` every alert goes to the null receiver
    (shown in Alertmanager and Grafana, never sent); the URL and the routing key are secrets."""

    slack_webhook_url: SecretValue | None = None
    pagerduty_routing_key: SecretValue | None = None
    warning_channel: SlackChannel = "#utp-alerts"
    critical_channel: SlackChannel = "#utp-incidents"
    # Prefix for the rules' relative runbook links (docs/operations.md#...); empty: none.
    runbook_base_url: Annotated[str, msgspec.Meta(pattern=r"^(https://.*)?$")] = ""

    @property
    def configured(self) -> bool:
        return self.slack_webhook_url is not None


ALERTING_SECRETS = ("slackWebhookUrl", "pagerdutyRoutingKey")


class StackConfig(_Group, frozen=True, kw_only=True):
    environment: Literal["staging", "production"]
    primary_region: Region = "us-east-1"
    dr_region: Region = "us-west-2"
    network: NetworkConfig = msgspec.field(default_factory=NetworkConfig)
    cluster: ClusterConfig = msgspec.field(default_factory=ClusterConfig)
    database: DatabaseConfig = msgspec.field(default_factory=DatabaseConfig)
    cache: CacheConfig = msgspec.field(default_factory=CacheConfig)
    service: ServiceConfig
    dns: DnsConfig
    budget: BudgetConfig
    provider_keys: ProviderKeys = msgspec.field(default_factory=ProviderKeys)
    alerting: AlertingConfig = msgspec.field(default_factory=AlertingConfig)
    edge: EdgeConfig = msgspec.field(default_factory=EdgeConfig)
    log_retention_days: Count = 30

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


_MODEL = mi.type_info(StackConfig)
Key = str | int  # a step of a path into the config: a key, or a list index


def _convert(body: Mapping[str, Any]) -> StackConfig:
    """The `utp:` keys (prefix removed) as a StackConfig, or the first problem as ConfigError."""
    prepared = _prepare(body, _MODEL, PROJECT)
    try:
        # Not strict: the engine sends scalars as strings ("3", "true").
        return msgspec.convert(prepared, StackConfig, strict=False, dec_hook=_secret_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), prepared)) from None


def _prepare(value: Any, model: mi.Type, path: str) -> Any:
    """What the engine and hand-edited YAML send, made what the model takes: an object or list
    given as JSON text parsed, a number where text belongs (`engineVersion: 16`) as its text,
    and an offline `{secure: ...}` value as its placeholder."""
    model = _optional(model)
    if isinstance(model, mi.StructType | mi.VarTupleType) and isinstance(value, str):
        value = _json(value, path)
    if isinstance(model, mi.StructType) and isinstance(value, Mapping):
        fields = {f.encode_name: f.type for f in model.fields}
        return {
            k: _prepare(v, fields[k], f"{path}.{k}") if k in fields else v for k, v in value.items()
        }
    if isinstance(model, mi.VarTupleType) and isinstance(value, list):
        return [_prepare(v, model.item_type, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(model, mi.StrType) and isinstance(value, int | float):
        return value if isinstance(value, bool) else str(value)
    if isinstance(model, mi.CustomType) and isinstance(value, Mapping) and set(value) == {"secure"}:
        return SecretValue(value=f"[secret {path}]", offline=True)
    return value


def _secret_hook(kind: type, value: Any) -> Any:
    if kind is SecretValue and isinstance(value, SecretValue):
        return value
    raise ValueError("must be a secret")


def _optional(model: mi.Type) -> mi.Type:
    """`X | None` as X (None itself is checked by msgspec)."""
    if isinstance(model, mi.UnionType):
        (inner, *_) = [t for t in model.types if not isinstance(t, mi.NoneType)]
        return inner
    return model


_FAILURE = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<at>[^`]*)`)?", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_TYPE_ERROR = re.compile(r"Expected `(?P<want>\w+)`, got `\w+`")
_CONSTRAINT = re.compile(r"Expected `\w+` (?:[<>]=?|matching)")


def _explain(failure: str, body: Any) -> str:
    """A msgspec ValidationError told as this module's messages always told it."""
    match = _FAILURE.fullmatch(failure)
    assert match is not None  # the pattern matches any text
    what, at = match["what"], match["at"] or ""
    keys: list[Key] = [k if k else int(i) for k, i in _STEP.findall(at)]
    path = PROJECT + at
    model = _model_at(keys)
    if named := re.fullmatch(r"Object contains unknown field `(.*)`", what):
        assert isinstance(model, mi.StructType)
        allowed = sorted(f.encode_name for f in model.fields)
        close = difflib.get_close_matches(named[1], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{path}.{named[1]}: unknown key{hint}; allowed: {', '.join(allowed)}"
    if named := re.fullmatch(r"Object missing required field `(.*)`", what):
        return f"{path}.{named[1]}: required key is missing"
    value = _value_at(body, keys)
    if isinstance(model, mi.LiteralType):
        # In the order the model lists them (msgspec's own LiteralType sorts them).
        parent = _model_at(keys[:-1])
        assert isinstance(parent, mi.StructType)
        field = next(f for f in msgspec.structs.fields(parent.cls) if f.encode_name == keys[-1])
        choices = ", ".join(map(str, typing.get_args(field.type)))
        return f"{path}: must be one of {choices}, not {value!r}"
    if isinstance(model, mi.CustomType):  # SecretValue
        return f"{path}: must be a secret (`pulumi config set --secret {path} ...`)"
    if _CONSTRAINT.match(what):
        key = ".".join(map(str, keys))
        return _CONSTRAINT_MESSAGES.get(key, f"{path}: must not be negative").format(value=value)
    want = _TYPE_ERROR.fullmatch(what)
    expected = {
        "object": f"expected a mapping, got {type(value).__name__}",
        "array": f"expected a list, got {type(value).__name__}",
        "bool": f"must be true or false, not {value!r}",
        "int": f"must be a whole number, not {value!r}",
        "str": f"must be a string, not {value!r}",
    }
    return f"{path}: {expected.get(want['want'] if want else '', what)}"


def _model_at(keys: list[Key]) -> mi.Type:
    model: mi.Type = _MODEL
    for key in keys:
        model = _optional(model)
        if isinstance(model, mi.StructType):
            model = next(f.type for f in model.fields if f.encode_name == key)
        elif isinstance(model, mi.VarTupleType):
            model = model.item_type
    return _optional(model)


def _value_at(body: Any, keys: list[Key]) -> Any:
    for key in keys:
        body = body[key]
    return body


def _json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{path}: expected structured config, got {text!r}") from None


def _validate(cfg: StackConfig) -> None:
    problems: list[str] = []
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
    if cfg.database.engine_version != "16":
        problems.append(
            "utp:database.engineVersion: must be the major version 16 (the service is built for"
            " PostgreSQL 16; RDS applies minor upgrades, so a pinned minor becomes a downgrade)"
        )
    if cfg.database.max_allocated_storage_gib < cfg.database.allocated_storage_gib:
        problems.append("utp:database.maxAllocatedStorageGib: below allocatedStorageGib")
    s = cfg.service
    if not (2 <= s.min_replicas <= s.max_replicas):
        problems.append("utp:service: need 2 <= minReplicas <= maxReplicas")
    if not cfg.dns.api_hostname.endswith("." + cfg.dns.zone):
        problems.append("utp:dns.apiHostname: must be inside utp:dns.zone")
    if "@" not in cfg.dns.acme_email:
        problems.append("utp:dns.acmeEmail: must be an email address")
    if not cfg.budget.emails or any("@" not in e for e in cfg.budget.emails):
        problems.append("utp:budget.emails: at least one email address")
    if cfg.budget.yearly_limit_usd < cfg.budget.monthly_usd:
        problems.append("utp:budget.yearlyUsd: must be at least monthlyUsd")
    problems.extend(_alerting_problems(cfg.alerting))
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
    return problems


def parse_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate `project:key` config (values structured, or JSON strings as the engine sends)."""
    prefix = PROJECT + ":"
    # The engine passes the stack file merged with Pulumi.yaml's `config:`, so keys of other
    # namespaces (`pulumi:disable-default-providers`, `aws:*` for default providers) arrive
    # here too: they belong to the engine and the providers, not to this program.
    _check_engine_keys(raw)
    body = {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}
    cfg = _convert(body)
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
