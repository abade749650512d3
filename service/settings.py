"""Typed settings read once from `UTP_*` environment variables and passed into the app.

Every field of every group maps to one variable: `UTP_` + the field name in upper case
(`database_url` -> `UTP_DATABASE_URL`). `env_var_names()` lists them all, so the platform's
Deployment can be checked against this module. A secret can instead be read from a file named
by `<VAR>_FILE` (`UTP_SECRET_KEY_FILE=/run/secrets/utp_secret_key`, as compose.yaml does), and
so can `UTP_DATABASE_URL`, which carries the database password. Files are read once at start-up,
except the database URL's: the engine re-reads its credentials from that file on every new
connection, so a rotated password reaches a running process (service/db/credentials.py).

The variables of a group are converted to its dataclass by `msgspec.convert` (numbers, choices,
paths), and its errors are told as `UTP_PORT must be a number, not 'eighty'`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from ops_common.env import SecretEnvError, value_from_env

PREFIX = "UTP_"
DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused in production, by design


class SettingsError(ValueError):
    """A setting is missing, malformed or insecure; the message names the variable."""


# Every number the service reads is a size, a count, a ratio or a duration.
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]


class Secret:
    """A string that never shows itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    environment: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: NonNegativeInt = 8000
    log_level: str = "INFO"
    # Message text appears in logs only when this is explicitly switched on.
    log_message_text: bool = False
    data_dir: Path = Path("var")
    # Trust X-Request-ID from clients (they are echoed back and logged).
    request_id_header: str = "X-Request-ID"
    # How long an idle keep-alive connection stays open. Longer than the idle timeout of any
    # proxy in front (Traefik keeps idle backend connections 90 s, an AWS ALB 60 s): a server
    # that closes first races the proxy's next request on that connection, which then fails
    # (502). uvicorn's own default, 5 s, did exactly that in the capacity benchmark.
    keepalive_seconds: NonNegativeInt = 100
    # The deployed release (the image tag; the platform sets it). Reported by the health
    # endpoints and `utp_build_info`, so a deploy can tell when the new release is serving.
    release: str = ""
    # The OpenAPI document and its pages under /schema: `auto` serves them outside production
    # only (the pages load their scripts from a CDN, and the schema maps the whole API).
    schema_enabled: Literal["auto", "true", "false"] = "auto"


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    # Empty means an SQLite file in data_dir (see Settings.database_url_resolved).
    database_url: str = ""
    # Where UTP_DATABASE_URL was read from, if from a file: the credentials in it are re-read on
    # every new connection (the platform mounts the synced Secret there; it is not a setting of
    # its own, `UTP_DATABASE_URL_FILE` sets both).
    database_url_file: str = ""
    database_pool_size: NonNegativeInt = 10
    database_echo: bool = False
    # `utp serve` brings the schema to head before it listens. The clusters turn this off:
    # there a Job runs `utp db upgrade` once per release before the rollout (concurrent runs
    # are safe either way: they take turns on a PostgreSQL advisory lock).
    migrate_on_start: bool = True


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    # Absent means the in-process cache only.
    redis_url: Secret = field(default_factory=lambda: Secret(""))
    memory_cache_entries: NonNegativeInt = 50_000
    cache_ttl_seconds: NonNegativeInt = 30 * 24 * 3600
    # After a Redis failure, skip Redis for this long instead of waiting on it per request.
    redis_retry_seconds: NonNegativeFloat = 5.0
    redis_timeout_seconds: NonNegativeFloat = 0.25


@dataclass(frozen=True, kw_only=True)
class SecuritySettings:
    secret_key: Secret = field(default_factory=lambda: Secret(DEV_SECRET))
    bootstrap_api_key: Secret = field(default_factory=lambda: Secret(""))
    # Verified API keys are remembered this long, so revocation takes at most this to apply.
    api_key_cache_seconds: NonNegativeFloat = 10.0
    # AES-256-GCM key sealing secrets at rest (workspaces' provider keys): base64 of 32 bytes.
    # Outside production an unset key is derived from secret_key (development only).
    encryption_key: Secret = field(default_factory=lambda: Secret(""))
    # Production alternative: a data key wrapped by this KMS key (id, ARN or alias) ...
    encryption_kms_key_id: str = ""
    # ... given as the base64 CiphertextBlob of KMS GenerateDataKey (`utp encryption
    # generate-data-key`); unwrapped once at start-up.
    encryption_wrapped_data_key: str = ""
    # Empty: the region in the key's ARN, else boto3's default (AWS_REGION).
    encryption_kms_region: str = ""
    # Keys that may still seal old rows (comma separated: base64 keys, or `kms:<wrapped key>`);
    # `utp encryption rotate` re-seals those rows with the current key.
    encryption_previous_keys: Secret = field(default_factory=lambda: Secret(""))
    # End-user JWTs (HS256, signed with secret_key): who issues them, for whom, for how long.
    jwt_issuer: str = "utp"
    jwt_audience: str = "utp-api"
    jwt_ttl_seconds: NonNegativeInt = 900
    # A token found not revoked is trusted this long per process; revocations made in the same
    # process apply at once, those made on other replicas within this delay.
    jwt_revocation_cache_seconds: NonNegativeFloat = 2.0
    # Rocket.Chat room roles and global admin flags are remembered this long.
    chat_roles_cache_seconds: NonNegativeFloat = 60.0
    chat_api_timeout_seconds: NonNegativeFloat = 5.0
    chat_api_max_retries: NonNegativeInt = 2
    # Tenant-configured URLs (provider base_url, rocketchat_url) may reach these networks
    # (CIDRs, comma separated) in production, e.g. an on-premises Rocket.Chat at 10.0.4.0/24;
    # every other non-public address is refused (service/netpolicy.py).
    outbound_allowed_networks: tuple[str, ...] = ()
    # Production takes only https for tenant-configured URLs unless this is on.
    outbound_allow_http: bool = False
    # API keys created with a user token (a Rocket.Chat admin's 15-minute token) expire within
    # this many days: a short-lived credential must not mint a permanent one.
    token_minted_key_max_days: NonNegativeInt = 30
    # When set, /metrics answers only `Authorization: Bearer <this>` (give it to the scraper,
    # e.g. a ServiceMonitor's bearerTokenSecret); the exposition has no tenant ids either way.
    metrics_token: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True, kw_only=True)
class LimitSettings:
    max_text_chars: NonNegativeInt = 10_000
    max_batch_items: NonNegativeInt = 50
    max_target_langs: NonNegativeInt = 10
    max_context_messages: NonNegativeInt = 10
    # Characters of all context messages of a request together: context is sent to the LLMs
    # with every text and counted in budget estimates, so it is bounded like the text is.
    max_context_chars: NonNegativeInt = 4000
    max_body_bytes: NonNegativeInt = 1_048_576
    request_timeout_seconds: NonNegativeFloat = 30.0


@dataclass(frozen=True, kw_only=True)
class ProviderSettings:
    # Order of preference among providers of equal rank (names, comma separated).
    provider_order: tuple[str, ...] = (
        "deepl",
        "google",
        "openai",
        "anthropic",
        "libretranslate",
        "apertium",
    )
    default_quality_tier: Literal["economy", "balanced", "premium"] = "balanced"
    provider_timeout_seconds: NonNegativeFloat = 10.0
    # OpenAI and Anthropic calls (a long message takes tens of seconds); the request's own
    # deadline, UTP_REQUEST_TIMEOUT_SECONDS, still bounds every call.
    llm_timeout_seconds: NonNegativeFloat = 60.0
    provider_max_retries: NonNegativeInt = 2
    breaker_failure_threshold: NonNegativeInt = 5
    breaker_cooldown_seconds: NonNegativeFloat = 30.0

    apertium_enabled: bool = True
    apertium_modes_dir: Path = Path("/usr/share/apertium/modes")
    apertium_pool_size: NonNegativeInt = 2

    deepl_api_key: Secret = field(default_factory=lambda: Secret(""))
    # Empty: chosen from the key (keys ending ":fx" use the free API host).
    deepl_base_url: str = ""

    google_api_key: Secret = field(default_factory=lambda: Secret(""))
    google_base_url: str = "https://translation.googleapis.com"

    openai_api_key: Secret = field(default_factory=lambda: Secret(""))
    openai_base_url: str = "https://api.openai.com"
    openai_model: str = "gpt-4.1-mini"

    anthropic_api_key: Secret = field(default_factory=lambda: Secret(""))
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_model: str = "claude-sonnet-5-5"

    # A self-hosted LibreTranslate server; enabled when the URL is set.
    libretranslate_url: str = ""
    libretranslate_api_key: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True, kw_only=True)
class DetectionSettings:
    # Languages the detector chooses among unless a workspace narrows them further. Empty:
    # every language this service has a code for that lingua knows (42), a superset of what
    # any provider translates.
    detection_languages: tuple[str, ...] = ()
    # Of those, the ones whose short messages are re-scored with lingua's high-accuracy models
    # (1- to 5-grams, ~25 MB each); the others are told apart by trigrams (~1.5 MB each) and
    # word frequencies. Korean and Arabic left in the fourth round (their script decides them),
    # and Swedish, Bokmål and Indonesian, added in the third, too: with word frequencies their
    # short lines are right without them (bench/README.md), and the five cost ~90 MB.
    detection_high_accuracy_languages: tuple[str, ...] = (
        *("en", "es", "fr", "de", "it", "pt", "ca", "nl"),
        *("pl", "ru", "uk", "tr", "ja", "zh-Hans"),
    )
    # Below this many words the author's recent language outweighs a weak detection.
    short_message_words: NonNegativeInt = 3
    # Trigrams only, for every language (no high-accuracy models): ~75 MB instead of ~450 MB.
    detection_low_accuracy: bool = False


@dataclass(frozen=True, kw_only=True)
class OpsSettings:
    """Backups, restore, health checks and release notifications (`utp backup`, `utp-infra`)."""

    # Empty bucket: backups stay in backup_local_dir (as with --no-upload).
    backup_bucket: str = ""
    backup_prefix: str = ""
    # Customer-managed KMS key (id, ARN or alias) for SSE-KMS; empty: the bucket's default key.
    backup_kms_key_id: str = ""
    # Only for S3-compatible stores and tests (moto, MinIO); empty is AWS.
    backup_s3_endpoint_url: str = ""
    backup_s3_region: str = "us-east-1"
    # Objects at least this large are uploaded in parts of backup_multipart_chunk_mb.
    backup_multipart_threshold_mb: NonNegativeInt = 64
    backup_multipart_chunk_mb: NonNegativeInt = 16
    # Empty: <data_dir>/backups.
    backup_local_dir: str = ""
    # node_exporter textfile-collector directory for utp_backup_last_success_timestamp_seconds.
    backup_textfile_dir: str = ""
    # The health check calls the newest backup stale beyond this age (daily jobs + slack).
    backup_max_age_seconds: NonNegativeInt = 26 * 3600
    health_check_url: str = "http://127.0.0.1:8000"
    # A key for the health check's translation round trip; without one that check is skipped.
    health_check_api_key: Secret = field(default_factory=lambda: Secret(""))
    # Slack incoming webhook for deploy/rollback notifications; empty: no notification.
    slack_webhook_url: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True, kw_only=True)
class UsageSettings:
    """Usage ledger and its durable outbox, budgets, rate limits and retention (service/usage)."""

    # Events go to a journal in data_dir before the response; this often they reach the database.
    usage_flush_interval_seconds: NonNegativeFloat = 0.5
    # Each batch is prepared on the event loop: bigger ones stall requests (cached-path p99).
    usage_flush_batch_size: NonNegativeInt = 200
    # The journal is fsync'd in the background this often: what a machine crash (not a process
    # crash, which loses nothing) can lose at most.
    usage_outbox_sync_seconds: NonNegativeFloat = 0.2
    # Budgets and their current spend are re-read at most this often per workspace.
    budget_cache_seconds: NonNegativeFloat = 5.0
    # New budgets switch to the economy tier at this fraction of their monthly limit.
    budget_soft_limit_ratio: NonNegativeFloat = 0.8
    # Reservations older than this (a crashed request) are released by the maintenance job.
    budget_reservation_ttl_seconds: NonNegativeFloat = 600.0
    # Fixed windows per API key, per user and per channel; 0 switches a limit off.
    rate_limit_key_per_minute: NonNegativeInt = 6000
    rate_limit_key_per_hour: NonNegativeInt = 200_000
    rate_limit_user_per_minute: NonNegativeInt = 120
    rate_limit_user_per_hour: NonNegativeInt = 3000
    rate_limit_channel_per_minute: NonNegativeInt = 600
    rate_limit_channel_per_hour: NonNegativeInt = 20_000
    # The Rocket.Chat token exchange: every attempt per integration key, and failed attempts
    # per Rocket.Chat user id (guessing a user's auth token is slowed to this pace).
    rate_limit_exchange_per_minute: NonNegativeInt = 600
    rate_limit_exchange_user_per_minute: NonNegativeInt = 10
    # Stored message text (the translation memory) is purged after this many days.
    message_retention_days: NonNegativeInt = 30
    maintenance_interval_seconds: NonNegativeFloat = 300.0


@dataclass(frozen=True, kw_only=True)
class ChatSettings:
    """The Rocket.Chat webhook bot: background delivery, retries, member and context lookups."""

    # Attempts per Rocket.Chat call of a delivery (429s wait for Retry-After, 5xx back off).
    chat_delivery_attempts: NonNegativeInt = 4
    chat_delivery_backoff_seconds: NonNegativeFloat = 1.0
    # A room's members (and their languages) are re-read at most this often.
    chat_members_cache_seconds: NonNegativeFloat = 60.0
    # Recent messages of the room (or thread) sent as context, when the channel allows it.
    chat_context_messages: NonNegativeInt = 5
    # At shutdown, translations in flight get this long to be delivered.
    chat_shutdown_grace_seconds: NonNegativeFloat = 10.0


GROUPS = (
    ServerSettings,
    DatabaseSettings,
    CacheSettings,
    SecuritySettings,
    LimitSettings,
    ProviderSettings,
    DetectionSettings,
    OpsSettings,
    UsageSettings,
    ChatSettings,
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    usage: UsageSettings = field(default_factory=UsageSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)

    @property
    def database_url(self) -> str:
        if self.database.database_url:
            return normalize_database_url(self.database.database_url)
        return f"sqlite+aiosqlite:///{(self.server.data_dir / 'utp.db').resolve()}"

    @property
    def database_credentials_file(self) -> Path | None:
        """The file the database URL came from, re-read for each new connection."""
        return Path(self.database.database_url_file) if self.database.database_url_file else None

    @property
    def is_production(self) -> bool:
        return self.server.environment == "production"

    @property
    def schema_served(self) -> bool:
        if self.server.schema_enabled == "auto":
            return not self.is_production
        return self.server.schema_enabled == "true"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        groups = {f.name: _load_group(hints[f.name], env) for f in dataclasses.fields(cls)}
        settings = cls(**groups)
        settings.validate()
        return settings

    def validate(self) -> None:
        _validate_encryption(self.security)
        for network in self.security.outbound_allowed_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(
                    f"UTP_OUTBOUND_ALLOWED_NETWORKS: {network!r} is not a network in CIDR "
                    "notation (e.g. 10.0.4.0/24)"
                ) from None
        if not self.is_production:
            return
        secret = self.security.secret_key.get()
        if secret == DEV_SECRET or len(secret) < 32:
            raise SettingsError(
                "UTP_SECRET_KEY must be set to a random value of at least 32 characters in "
                "production (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        bootstrap = self.security.bootstrap_api_key.get()
        if bootstrap and len(bootstrap) < 32:
            raise SettingsError(
                "UTP_BOOTSTRAP_API_KEY is too short for production (min 32 characters)"
            )
        if not self.database.database_url:
            raise SettingsError(
                "UTP_DATABASE_URL must point at PostgreSQL in production "
                "(postgresql+asyncpg://user:password@host:5432/db)"
            )
        if self.database_url.startswith("sqlite"):
            raise SettingsError(
                "UTP_DATABASE_URL must point at PostgreSQL in production, not SQLite"
            )
        _require_encryption_key(self.security)


def _validate_encryption(security: SecuritySettings) -> None:
    key = security.encryption_key.get()
    kms = bool(security.encryption_kms_key_id or security.encryption_wrapped_data_key)
    if key and kms:
        raise SettingsError(
            "set either UTP_ENCRYPTION_KEY or UTP_ENCRYPTION_KMS_KEY_ID with "
            "UTP_ENCRYPTION_WRAPPED_DATA_KEY, not both (list the old key in "
            "UTP_ENCRYPTION_PREVIOUS_KEYS while rotating)"
        )
    if kms and not (security.encryption_kms_key_id and security.encryption_wrapped_data_key):
        raise SettingsError(
            "UTP_ENCRYPTION_KMS_KEY_ID and UTP_ENCRYPTION_WRAPPED_DATA_KEY go together "
            "(`utp encryption generate-data-key --kms-key-id KEY` prints the wrapped key)"
        )
    if key and not _is_aes256_key(key):
        raise SettingsError(
            "UTP_ENCRYPTION_KEY must be 32 random bytes in base64 "
            "(`utp encryption generate-key` prints one)"
        )
    for i, entry in enumerate(security.encryption_previous_keys.get().split(",")):
        old = entry.strip()
        if old and not old.startswith("kms:") and not _is_aes256_key(old):
            raise SettingsError(
                f"UTP_ENCRYPTION_PREVIOUS_KEYS: entry {i + 1} is neither 32 bytes in base64 "
                "nor kms:<wrapped data key>"
            )


def _require_encryption_key(security: SecuritySettings) -> None:
    if not security.encryption_key and not security.encryption_kms_key_id:
        raise SettingsError(
            "UTP_ENCRYPTION_KEY (32 random bytes in base64, from `utp encryption "
            "generate-key`) or UTP_ENCRYPTION_KMS_KEY_ID with UTP_ENCRYPTION_WRAPPED_DATA_KEY "
            "must be set in production: it encrypts workspaces' provider keys at rest"
        )


def _is_aes256_key(text: str) -> bool:
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the async driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


# Settings that are not secrets by type but carry one (the database password), so may come from
# `<VAR>_FILE` as well.
FILE_SETTINGS: frozenset[str] = frozenset({"database_url"})


def env_var_names() -> frozenset[str]:
    """Every environment variable the service reads."""
    return frozenset(PREFIX + f.name.upper() for group in GROUPS for f in dataclasses.fields(group))


def _load_group(group: Any, env: Mapping[str, str]) -> Any:
    hints = typing.get_type_hints(group)
    given: dict[str, str] = {}
    for f in dataclasses.fields(group):
        var = PREFIX + f.name.upper()
        if hints[f.name] is Secret or f.name in FILE_SETTINGS:
            try:
                raw = value_from_env(var, env)
            except SecretEnvError as exc:
                raise SettingsError(str(exc)) from None
        else:
            raw = env.get(var)
        if raw is not None:
            given[f.name] = raw
    values = {name: _env_value(raw, hints[name]) for name, raw in given.items()}
    try:
        # Not strict: msgspec reads numbers from text ("8000" -> 8000).
        return msgspec.convert(values, group, strict=False, dec_hook=_from_text)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(str(exc), group, given)) from None


def _env_value(raw: str, hint: Any) -> Any:
    """The variable's text as msgspec takes it: the words people use for on and off, and lists."""
    text = raw.strip()
    if hint is bool:
        lowered = text.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
    if typing.get_origin(hint) is tuple:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _from_text(kind: type, text: Any) -> Any:
    """The types msgspec does not know, from their (stripped) text. Any other type is refused
    the way msgspec's `dec_hook` protocol asks (NotImplementedError -> a ValidationError naming
    the setting); no setting has one today."""
    if kind is Secret or kind is Path:
        return kind(text)
    raise NotImplementedError(kind)  # pragma: no cover - msgspec's "unsupported type" signal


_FAILURE = re.compile(r"(?P<what>.*) - at `\$\.(?P<name>\w+)`", re.DOTALL)


def _explain(failure: str, group: Any, given: Mapping[str, str]) -> str:
    """A msgspec ValidationError told as `UTP_<NAME> must ..., not '<what was set>'`."""
    match = _FAILURE.fullmatch(failure)
    assert match is not None  # every value is a field of a flat group
    what, name = match["what"], match["name"]
    var, raw = PREFIX + name.upper(), given[name]
    if what.startswith("Invalid enum value"):
        allowed = typing.get_args(typing.get_type_hints(group)[name])
        return f"{var} must be one of {', '.join(allowed)}, not {raw!r}"
    if what.startswith("Expected `bool`"):
        return f"{var} must be true or false, not {raw!r}"
    if re.match(r"Expected `\w+` >=", what):
        return f"{var} must not be negative"
    return f"{var} must be a number, not {raw!r}"
