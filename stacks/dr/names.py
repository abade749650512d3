"""What `utp-infra dr` acts on, derived from the stack config the way the program names it."""

from __future__ import annotations

from dataclasses import dataclass

from infra.database import master_secret_name
from infra.dns import HEALTH_PATH, RECORD_TTL_SECONDS
from stacks.config import StackConfig
from stacks.naming import (
    cluster_name,
    database_identifier,
    region_prefix,
    regional_hostname,
    replica_bucket_prefix,
)


@dataclass(frozen=True)
class RegionNames:
    region: str
    database: str  # the RDS instance identifier
    cluster: str  # the EKS cluster
    hostname: str  # the name only this region's ingress serves (health-checked)


@dataclass(frozen=True)
class DrNames:
    """The configured primary (`utp:primaryRegion`) and DR (`utp:drRegion`) regions: the roles
    the Pulumi program gave them, whichever one holds the writable database now."""

    environment: str
    primary: RegionNames
    dr: RegionNames
    zone: str
    api_hostname: str
    master_secret: str  # created in the primary region, replicated to the DR region
    replica_bucket_prefix: str  # the DR region's backup bucket, before the account id
    backup_retention_days: int
    health_path: str = HEALTH_PATH
    ttl: int = RECORD_TTL_SECONDS

    @classmethod
    def from_config(cls, cfg: StackConfig) -> DrNames:
        regions = {}
        for region in cfg.regions:
            prefix = region_prefix(cfg, region)
            regions[region] = RegionNames(
                region=region,
                database=database_identifier(prefix),
                cluster=cluster_name(prefix),
                hostname=regional_hostname(cfg, region),
            )
        primary, dr = regions[cfg.primary_region], regions[cfg.dr_region]
        return cls(
            environment=cfg.environment,
            primary=primary,
            dr=dr,
            zone=cfg.dns.zone,
            api_hostname=cfg.dns.api_hostname,
            master_secret=master_secret_name(primary.database),
            replica_bucket_prefix=replica_bucket_prefix(region_prefix(cfg, cfg.dr_region)),
            backup_retention_days=cfg.database.backup_retention_days,
        )
