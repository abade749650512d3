"""Connections that verify who answers: database URLs handed to workloads check the server."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.helpers import UNKNOWN, Res, as_map, get, resource_rule, types

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
]
