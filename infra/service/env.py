"""The service's environment: where each variable comes from, and the ConfigMap half of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi_kubernetes as k8s

from infra.service.scope import Scope

PORT = 8000

# The database connection verifies the server: TLS with the RDS CA bundle and the hostname
# checked against the certificate (asyncpg and libpq read the bundle from PGSSLROOTCERT).
DATABASE_TLS_QUERY = "ssl=verify-full"
RDS_CA_BUNDLE = Path(__file__).resolve().parents[1] / "data" / "rds-ca" / "global-bundle.pem"
RDS_CA_CONFIG_MAP = "utp-rds-ca"
RDS_CA_DIR = "/etc/utp/rds-ca"
RDS_CA_FILE = f"{RDS_CA_DIR}/{RDS_CA_BUNDLE.name}"
PROVIDERS: tuple[str, ...] = ("deepl", "google", "openai", "anthropic")

# The database URL carries the password a rotation changes, so it reaches the pods as a file of
# the synced Secret, never as an environment variable: the kubelet rewrites a mounted Secret's
# files when the Secret changes (not through a subPath mount), while a running container's
# environment never changes. The service re-reads the credentials in that file for every new
# connection (service/db/credentials.py).
DATABASE_URL_KEY = "UTP_DATABASE_URL"  # the key in the `utp-env` Secret
DATABASE_URL_VOLUME = "database-url"
DATABASE_URL_DIR = "/etc/utp/database"
DATABASE_URL_FILE = f"{DATABASE_URL_DIR}/url"
# Owner and group read only (0440); the pod's fsGroup (10001) owns the files, so the service's
# non-root user reads them and no other user can.
SECRET_FILE_MODE = 0o440


@dataclass(frozen=True)
class EnvSource:
    """Where one environment variable comes from: the ConfigMap, the synced Secret, or a fixed
    value (the path of a file mounted from the Secret)."""

    kind: Literal["config", "secret", "value"]
    optional: bool = False
    value: str = ""


# The one mapping of the service's environment (names are `service.settings` variables).
ENV_VARS: dict[str, EnvSource] = {
    "UTP_ENVIRONMENT": EnvSource("config"),
    "UTP_HOST": EnvSource("config"),
    "UTP_PORT": EnvSource("config"),
    "UTP_LOG_LEVEL": EnvSource("config"),
    "UTP_DATA_DIR": EnvSource("config"),
    "UTP_DATABASE_POOL_SIZE": EnvSource("config"),
    "UTP_MIGRATE_ON_START": EnvSource("config"),
    "UTP_DATABASE_URL_FILE": EnvSource("value", value=DATABASE_URL_FILE),
    "UTP_REDIS_URL": EnvSource("secret"),
    "UTP_SECRET_KEY": EnvSource("secret"),
    "UTP_ENCRYPTION_KEY": EnvSource("secret"),
    # Provider keys are optional: a provider without a key is simply not offered.
    **{f"UTP_{p.upper()}_API_KEY": EnvSource("secret", optional=True) for p in PROVIDERS},
}


def env_refs() -> list[dict[str, Any]]:
    """`ENV_VARS` as container `env` entries referencing `utp-config` and `utp-env`."""
    out: list[dict[str, Any]] = []
    for var, source in ENV_VARS.items():
        ref: dict[str, Any]
        if source.kind == "value":
            out.append({"name": var, "value": source.value})
            continue
        if source.kind == "config":
            ref = {"configMapKeyRef": {"name": "utp-config", "key": var}}
        else:
            ref = {"secretKeyRef": {"name": "utp-env", "key": var, "optional": source.optional}}
        out.append({"name": var, "valueFrom": ref})
    return out


def database_url_volume() -> dict[str, Any]:
    """The `utp-env` Secret's database URL alone, as the file `DATABASE_URL_FILE`."""
    return {
        "name": DATABASE_URL_VOLUME,
        "secret": {
            "secretName": "utp-env",
            "items": [{"key": DATABASE_URL_KEY, "path": Path(DATABASE_URL_FILE).name}],
            "defaultMode": SECRET_FILE_MODE,
        },
    }


def create_config_map(scope: Scope) -> k8s.core.v1.ConfigMap:
    k8s.core.v1.ConfigMap(
        f"{scope.name}-rds-ca",
        metadata={"name": RDS_CA_CONFIG_MAP, "namespace": scope.args.namespace},
        data={RDS_CA_BUNDLE.name: RDS_CA_BUNDLE.read_text()},
        opts=scope.child,
    )
    return k8s.core.v1.ConfigMap(
        f"{scope.name}-config",
        metadata={"name": "utp-config", "namespace": scope.args.namespace},
        data={
            "UTP_ENVIRONMENT": "production",
            "UTP_HOST": "0.0.0.0",  # noqa: S104 - inside the pod; NetworkPolicies gate it
            "UTP_PORT": str(PORT),
            "UTP_LOG_LEVEL": scope.args.log_level,
            "UTP_DATA_DIR": "/var/lib/utp",
            "UTP_DATABASE_POOL_SIZE": "10",
            # The migration Job (infra/service/jobs.py) migrates once per release, before the
            # rollout; replicas only serve.
            "UTP_MIGRATE_ON_START": "false",
        },
        opts=scope.child,
    )
