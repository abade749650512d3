"""What one region's TranslatorService is built from: image, hosts, secret sources, sizing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi


@dataclass(frozen=True, kw_only=True)
class TranslatorServiceArgs:
    region: str
    image_repository: pulumi.Input[str]
    image_tag: str
    hostname: str
    regional_hostname: str
    cluster_issuer: str
    vpc_cidr: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    # Secrets Manager sources (ARNs), all readable in `region` unless said otherwise.
    database_secret_arn: pulumi.Input[str]
    database_secret_region: str
    database_host: pulumi.Input[str]
    database_name: str
    redis_host: pulumi.Input[str]
    redis_secret_arn: pulumi.Input[str]
    secret_key_arn: pulumi.Input[str]
    encryption_key_arn: pulumi.Input[str]
    provider_key_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    kms_key_arns: Sequence[pulumi.Input[str]] = ()
    min_replicas: int = 2
    max_replicas: int = 10
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    # `utp serve` is ~530 MB when ready and ~560 MB after load, most of it lingua's
    # detection models (README "Language detection", bench/README.md; 14 high-accuracy
    # languages, ~25 MB each). The HPA scales out at 80 % of the request, and this memory does
    # not grow with load: 768Mi keeps a pod at rest at ~70 %, below that line (512Mi had every
    # pod above it from start-up).
    memory_request: str = "768Mi"
    memory_limit: str = "1Gi"
    log_level: str = "INFO"
    # The primary runs migrations before each rollout; a replica-backed DR copy cannot.
    run_migrations: bool = True
    backup_bucket: pulumi.Input[str] | None = None
    backup_role_arn: pulumi.Input[str] | None = None
    # Application data every 4 hours, as the deployment overview promises.
    backup_schedule: str = "0 */4 * * *"
    # `utp backups prune` once a day with this retention (infra/backups.py expires the rest).
    backup_prune_role_arn: pulumi.Input[str] | None = None
    prune_schedule: str = "30 3 * * *"
    keep_daily: int = 30
    keep_weekly: int = 12
    keep_monthly: int = 12
    namespace: str = "utp"
    backup_service_account: str = "utp-backup"
