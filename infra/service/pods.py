"""Hardened pod shapes shared by the API, migration and backup pods."""

from __future__ import annotations

from typing import Any

from infra._k8s import RESTRICTED_CONTAINER
from infra.service.env import (
    DATABASE_URL_DIR,
    DATABASE_URL_VOLUME,
    RDS_CA_CONFIG_MAP,
    RDS_CA_DIR,
    RDS_CA_FILE,
    database_url_volume,
    env_refs,
)
from infra.service.scope import Scope


def container(
    scope: Scope, name: str, command: list[str] | None = None, *, database: bool = True
) -> dict[str, Any]:
    """A restricted container of the service image with the full environment and, unless
    `database` is off, the database URL file."""
    a = scope.args
    out: dict[str, Any] = {
        "name": name,
        "image": scope.image,
        "imagePullPolicy": "IfNotPresent",
        # The release travels with the image in the same object, so a pod never reports a
        # release other than the one it runs (the deploy's health gate waits for it).
        "env": [
            *env_refs(),
            {"name": "UTP_RELEASE", "value": a.image_tag},
            {"name": "PGSSLROOTCERT", "value": RDS_CA_FILE},
        ],
        "securityContext": RESTRICTED_CONTAINER,
        "resources": {
            "requests": {"cpu": a.cpu_request, "memory": a.memory_request},
            "limits": {"cpu": a.cpu_limit, "memory": a.memory_limit},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir
            {"name": "data", "mountPath": "/var/lib/utp"},
            {"name": "rds-ca", "mountPath": RDS_CA_DIR, "readOnly": True},
        ],
    }
    if database:
        # The whole directory, never a subPath: files under a subPath mount are not updated.
        out["volumeMounts"].append(
            {"name": DATABASE_URL_VOLUME, "mountPath": DATABASE_URL_DIR, "readOnly": True}
        )
    if command:
        out["command"] = command
    return out


def pod_spec(containers: list[dict[str, Any]], sa: str, **extra: Any) -> dict[str, Any]:
    """A non-root pod with private scratch volumes; the API's own `utp` account gets no token.
    The database URL's Secret volume only where a container mounts it."""
    mounted = {m["name"] for c in containers for m in c.get("volumeMounts", [])}
    database = [database_url_volume()] if DATABASE_URL_VOLUME in mounted else []
    return {
        "serviceAccountName": sa,
        "automountServiceAccountToken": sa != "utp",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The service's pods never run on interruptible capacity (the SPOT pool is also
        # tainted); EKS labels every managed node with its capacity type.
        "nodeSelector": {"eks.amazonaws.com/capacityType": "ON_DEMAND"},
        "containers": containers,
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "rds-ca", "configMap": {"name": RDS_CA_CONFIG_MAP}},
            *database,
        ],
        **extra,
    }
