"""Database connections: URLs handed to workloads check the server, and their credentials reach
running pods as files that follow a rotation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.helpers import UNKNOWN, Res, as_list, as_map, as_str, get, resource_rule, types
from policies.rules.kubernetes import WORKLOADS, containers, pod_spec

EXTERNAL_SECRET = types("kubernetes:external-secrets.io/v1:ExternalSecret")
_VERIFY_FULL = re.compile(r"[?&](ssl|sslmode)=verify-full(&|$)")


def _database_url_verifies_server(res: Res) -> Iterator[str]:
    data = get(res.props, "spec", "target", "template", "data")
    if data is UNKNOWN:
        return
    for key, value in as_map(data).items():
        if not isinstance(value, str) or not value.startswith("postgres"):
            continue
        if not _VERIFY_FULL.search(value):
            yield (
                f"{key} connects to PostgreSQL without verify-full: TLS that accepts any "
                "certificate hands the password to whoever answers."
            )


def _database_credentials_as_files(res: Res) -> Iterator[str]:
    spec = pod_spec(res)
    if spec is None or spec is UNKNOWN:
        return
    secret_volumes = {
        as_str(get(v, "name"))
        for v in as_list(get(spec, "volumes"))
        if get(v, "secret") is not None or get(v, "projected") is not None
    }
    for container in containers(spec):
        label = f"container '{as_str(get(container, 'name')) or '?'}'"
        for env in as_list(get(container, "env")):
            key = as_str(get(env, "valueFrom", "secretKeyRef", "key"))
            named = f"{key} {as_str(get(env, 'name'))}".upper()
            if key and "DATABASE" in named:
                yield (
                    f"{label} takes Secret key {key!r} as an environment variable, which a "
                    "running container never re-reads: a password rotation breaks its new "
                    "connections."
                )
        for mount in as_list(get(container, "volumeMounts")):
            if as_str(get(mount, "name")) in secret_volumes and get(mount, "subPath"):
                yield (
                    f"{label} mounts Secret volume {as_str(get(mount, 'name'))!r} with subPath: "
                    "the kubelet never updates such a file after the Secret changes."
                )


RULES = [
    resource_rule(
        name="k8s-database-url-verify-full",
        description="PostgreSQL URLs rendered into workload secrets verify the server "
        "(ssl=verify-full with a CA bundle).",
        area="tls",
        types=EXTERNAL_SECRET,
        check=_database_url_verifies_server,
        fix="end the URL with ?ssl=verify-full and give the pod the RDS CA bundle "
        "(PGSSLROOTCERT), as infra/service/env.py does.",
    ),
    resource_rule(
        name="k8s-database-credentials-as-files",
        description="Database credentials reach workloads as files of a mounted Secret (which "
        "the kubelet updates), never as environment variables or subPath mounts.",
        area="tls",
        types=WORKLOADS,
        check=_database_credentials_as_files,
        fix="mount the Secret's database URL as a file (no subPath) and name it with "
        "UTP_DATABASE_URL_FILE, as infra/service/pods.py does.",
    ),
]
