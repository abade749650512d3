"""The physical names the Pulumi program gives per region: one place, read by the program and by
`utp-infra dr` (which must find the same resources without running Pulumi)."""

from __future__ import annotations

from stacks.config import PROJECT, StackConfig

ENV_CODES = {"staging": "stg", "production": "prd"}


def short_region(region: str) -> str:
    """us-east-1 -> use1 (keeps physical names short and unique per account)."""
    area, direction, number = region.split("-")
    return f"{area}{direction[0]}{number}"


def region_prefix(cfg: StackConfig, region: str) -> str:
    """The prefix of every physical name in `region`, e.g. utp-prd-use1."""
    return f"{PROJECT}-{ENV_CODES[cfg.environment]}-{short_region(region)}"


def database_identifier(prefix: str) -> str:
    """The RDS instance identifier (and the Database component's name) in a region."""
    return f"{prefix}-db"


def cluster_name(prefix: str) -> str:
    """The EKS cluster in a region."""
    return f"{prefix}-eks"


def regional_hostname(cfg: StackConfig, region: str) -> str:
    """The name only `region`'s ingress serves (the failover records point at these)."""
    return f"{short_region(region)}.{cfg.dns.api_hostname}"


def replica_bucket_prefix(prefix: str) -> str:
    """The DR region's backup bucket, before the account id the program appends."""
    return f"{prefix}-backups-replica-"
