"""The Pulumi program: typed config -> a provider per region -> components, wired across regions."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra._tags import component_tag
from infra.alerts import AlertTopic, AlertTopicArgs, CostBudget, CostBudgetArgs
from infra.audit import Audit, AuditArgs
from infra.autoscaling import Autoscaling, AutoscalingArgs
from infra.backups import BackupIdentity, Backups, BackupsArgs, ReplicationTarget
from infra.cache import Cache, CacheArgs
from infra.crds import PrometheusOperatorCrds
from infra.database import Database, DatabaseArgs
from infra.dns import (
    HEALTH_PATH,
    FailoverDns,
    FailoverDnsArgs,
    HostedZone,
    HostedZoneArgs,
    RegionalEndpoint,
)
from infra.edge import Edge, EdgeArgs
from infra.eks import EksCluster, EksClusterArgs
from infra.ingress import Ingress, IngressArgs
from infra.kms import Kms, KmsArgs
from infra.monitoring import (
    ROUTE53_METRICS_REGION,
    AlertingArgs,
    CloudWatchTargets,
    LogBucket,
    Monitoring,
    MonitoringArgs,
    PostgresTarget,
    RedisTarget,
)
from infra.network import Network, NetworkArgs
from infra.registry import (
    AppSecrets,
    AppSecretsArgs,
    Registry,
    RegistryArgs,
    RegistryReplica,
    RegistryReplicaArgs,
)
from infra.secrets_operator import SecretsOperator, SecretsOperatorArgs
from infra.service import TranslatorService, TranslatorServiceArgs
from stacks.config import PROJECT, SecretValue, StackConfig
from stacks.naming import (
    cluster_name,
    database_identifier,
    region_prefix,
    regional_hostname,
    replica_bucket_prefix,
)


class Region(pulumi.ComponentResource):
    """Groups everything deployed into one AWS region; its inputs say which region and role."""

    def __init__(self, name: str, *, region: str, role: str) -> None:
        super().__init__(f"{PROJECT}:stacks:Region", name, {"region": region, "role": role})
        self.region = region
        self.role = role
        self.register_outputs({"region": region, "role": role})


@dataclass(frozen=True)
class Scope:
    """One region's grouping component, its explicit provider and its name prefix."""

    component: Region
    provider: aws.Provider
    random_provider: random.Provider
    prefix: str
    region: str
    role: str

    def opts(self, component: str, **extra: object) -> pulumi.ResourceOptions:
        """Options of a top-level component: this region, and `utp:component` on every
        taggable AWS resource under it (infra/_tags.py)."""
        return pulumi.ResourceOptions(
            parent=self.component,
            providers=[self.provider, self.random_provider],
            transformations=[component_tag(component)],
            **extra,  # type: ignore[arg-type]
        )


def cost_tags(cfg: StackConfig, role: str) -> dict[str, str]:
    """Every resource's tags (the provider's default tags; launch templates copy them onto what
    they launch). Activate Project, Environment and utp:component as cost-allocation tags in
    the billing console: the budget filters on Environment; utp:component (infra/_tags.py)
    splits the bill by component."""
    return {
        "Project": "universal-translator-pro",
        "Environment": cfg.environment,
        "RegionRole": role,
        "ManagedBy": "pulumi",
    }


def _scope(cfg: StackConfig, *, role: str, region: str) -> Scope:
    prefix = region_prefix(cfg, region)
    component = Region(f"{role}-{region}", region=region, role=role)
    provider = aws.Provider(
        f"aws-{role}-{region}",
        region=region,
        default_tags={"tags": cost_tags(cfg, role)},
        opts=pulumi.ResourceOptions(parent=component),
    )
    randomness = random.Provider(
        f"random-{role}-{region}", opts=pulumi.ResourceOptions(parent=component)
    )
    return Scope(component, provider, randomness, prefix, region, role)


def _in_region(arn: str, region: str) -> str:
    """A replicated secret keeps its name and suffix; only the ARN's region differs."""
    parts = arn.split(":")
    return ":".join([*parts[:3], region, *parts[4:]])


def _azs(region: str) -> tuple[str, ...]:
    return tuple(f"{region}{zone}" for zone in "abc")


BACKUP_NAMESPACE, BACKUP_SERVICE_ACCOUNT = "utp", "utp-backup"


@dataclass
class Regional:
    """What one region's foundation and data tier built; the later blocks read it."""

    kms: Kms
    network: Network
    cluster: EksCluster
    database: Database | None = None
    cache: Cache | None = None
    # The master credentials' secret as this region reads it (its own replica in DR).
    master_secret_arn: pulumi.Output[str] | None = None


@dataclass
class Shared:
    """What exists once per stack (mostly in the primary region)."""

    backups: Backups
    replica_bucket: Backups
    audit: dict[str, Audit]
    registry: Registry
    app_secrets: AppSecrets
    provider_keys: dict[str, pulumi.Output[str]]
    alerts: AlertTopic
    zone: HostedZone


@dataclass
class Workloads:
    """What runs on one region's cluster: its edge, ingress and the operators it waits for."""

    regional_host: str
    edge: Edge
    ingress: Ingress
    operator: SecretsOperator
    crds: PrometheusOperatorCrds


def program(cfg: StackConfig, *, stack: str) -> None:
    """Build both regions of `stack`; called by `stacks/__main__.py` and under mocks.

    Per region, in order: the foundation (keys, network, cluster, autoscaling) and the data
    tier; then what is shared (backups, audit, registry, secrets, alerts, the zone); then each
    region's workloads (edge, ingress, operators, the service), the failover records over both
    regions, and monitoring (which watches the failover health checks).
    """
    del stack  # the config already carries the environment; the name is for symmetry
    primary = _scope(cfg, role="primary", region=cfg.primary_region)
    dr = _scope(cfg, role="dr", region=cfg.dr_region)
    scopes = (primary, dr)
    account_id = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=primary.provider)
    ).account_id
    regions = {s.role: _foundation(cfg, s, account_id) for s in scopes}
    for s in scopes:  # the primary first: the DR database replicates it
        _data_tier(cfg, s, regions, dr)
    shared = _shared(cfg, primary, dr, regions, account_id)
    workloads = {s.role: _workloads(cfg, s, regions, shared) for s in scopes}
    dns = FailoverDns(
        f"{primary.prefix}-failover",
        FailoverDnsArgs(
            zone_id=shared.zone.zone.zone_id,
            hostname=cfg.dns.api_hostname,
            primary=RegionalEndpoint(
                name=workloads["primary"].regional_host,
                target=workloads["primary"].edge.hostname,
            ),
            secondary=RegionalEndpoint(
                name=workloads["dr"].regional_host, target=workloads["dr"].edge.hostname
            ),
            alarm_topic_arn=shared.alerts.topic.arn,
        ),
        opts=primary.opts("dns"),
    )
    # After the failover records: cloudwatch-exporter watches their health checks.
    health_checks = [dns.primary_health_check.id, dns.secondary_health_check.id]
    logs = _loki_buckets(cfg, primary, dr, regions, account_id)
    for s in scopes:
        _monitoring(cfg, s, regions, workloads[s.role], health_checks, logs[s.role])
    for warning in plan_warnings(cfg):
        pulumi.log.warn(warning)
    _exports(cfg, dr, regions, shared, dns)


def _foundation(cfg: StackConfig, s: Scope, account_id: pulumi.Output[str]) -> Regional:
    """One region's KMS keys, network, EKS cluster and its autoscaling."""
    prod = cfg.production
    kms = Kms(
        f"{s.prefix}-kms",
        KmsArgs(region=s.region, account_id=account_id, protect=prod),
        opts=s.opts("kms"),
    )
    network = Network(
        f"{s.prefix}-net",
        NetworkArgs(
            region=s.region,
            cidr=_vpc_cidr(cfg, s),
            azs=_azs(s.region),
            single_nat_gateway=cfg.network.nat_gateways == "single",
            flow_log_key_arn=kms.arn("logs"),
            flow_log_retention_days=cfg.network.flow_log_retention_days,
            cluster_name=cluster_name(s.prefix),
        ),
        opts=s.opts("network"),
    )
    c = cfg.cluster
    is_primary = s.role == "primary"
    cluster = EksCluster(
        cluster_name(s.prefix),
        EksClusterArgs(
            region=s.region,
            kubernetes_version=c.kubernetes_version,
            vpc_id=network.vpc.id,
            subnet_ids=network.private_subnet_ids,
            secrets_key_arn=kms.arn("eks"),
            logs_key_arn=kms.arn("logs"),
            log_retention_days=c.log_retention_days,
            public_access_cidrs=c.public_access_cidrs,
            instance_types=c.instance_types,
            min_nodes=c.min_nodes if is_primary else c.dr_min_nodes,
            desired_nodes=c.desired_nodes if is_primary else c.dr_desired_nodes,
            max_nodes=c.max_nodes if is_primary else c.dr_max_nodes,
            node_disk_gib=c.node_disk_gib,
            admin_role_arns=c.cluster_admins,
            cost_tags=cost_tags(cfg, s.role),
            spot_instance_types=c.spot_instance_types,
            spot_max_nodes=c.spot_max_nodes,
        ),
        opts=s.opts("eks"),
    )
    Autoscaling(
        f"{s.prefix}-autoscaling",
        AutoscalingArgs(
            cluster_name=cluster.cluster.name,
            region=s.region,
            kubernetes_version=c.kubernetes_version,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
        ),
        opts=pulumi.ResourceOptions(
            parent=s.component,
            providers=[s.provider, cluster.k8s_provider],
            transformations=[component_tag("autoscaling")],
        ),
    )
    return Regional(kms=kms, network=network, cluster=cluster)


def _data_tier(cfg: StackConfig, s: Scope, regions: dict[str, Regional], dr: Scope) -> None:
    """One region's database (the DR one a cross-region replica of the primary) and cache."""
    d, prod, here = cfg.database, cfg.production, regions[s.role]
    is_primary = s.role == "primary"
    source = regions["primary"].database
    here.database = Database(
        database_identifier(s.prefix),
        DatabaseArgs(
            region=s.region,
            vpc_id=here.network.vpc.id,
            subnet_ids=here.network.database_subnet_ids,
            client_security_group_ids=[here.cluster.cluster_security_group_id],
            kms_key_arn=here.kms.arn("rds"),
            logs_key_arn=here.kms.arn("logs"),
            log_retention_days=cfg.log_retention_days,
            instance_class=d.instance_class if is_primary else d.replica_instance_class,
            engine_version=d.engine_version,
            allocated_storage_gib=d.allocated_storage_gib,
            max_allocated_storage_gib=d.max_allocated_storage_gib,
            backup_retention_days=d.backup_retention_days,
            multi_az=True if is_primary else prod,
            db_name=d.name,
            username=d.username,
            production=prod,
            replicate_source_db=None if is_primary or source is None else source.instance.arn,
            # The secrets keys: the keys the service and exporters may already decrypt with.
            secret_kms_key_arn=here.kms.arn("secrets"),
            secret_replica_region=dr.region if is_primary else None,
            secret_replica_kms_key_arn=regions["dr"].kms.arn("secrets"),
            password_rotation=d.password_rotation,
        ),
        opts=s.opts("database"),
    )
    # The master credentials live in the primary region and, replicated, in the DR region:
    # each region reads its own copy, so the DR side keeps working when the primary is gone.
    master = (source or here.database).master_secret
    assert master is not None
    here.master_secret_arn = master.arn.apply(lambda arn: _in_region(arn, s.region))
    here.cache = Cache(
        f"{s.prefix}-cache",
        CacheArgs(
            vpc_id=here.network.vpc.id,
            subnet_ids=here.network.database_subnet_ids,
            client_security_group_ids=[here.cluster.cluster_security_group_id],
            kms_key_arn=here.kms.arn("elasticache"),
            secrets_key_arn=here.kms.arn("secrets"),
            logs_key_arn=here.kms.arn("logs"),
            log_retention_days=cfg.log_retention_days,
            node_type=cfg.cache.node_type,
            nodes=cfg.cache.nodes,
            engine_version=cfg.cache.engine_version,
            snapshot_retention_days=cfg.cache.snapshot_retention_days,
            production=prod,
        ),
        opts=s.opts("cache"),
    )


def _shared(
    cfg: StackConfig,
    primary: Scope,
    dr: Scope,
    regions: dict[str, Regional],
    account_id: pulumi.Output[str],
) -> Shared:
    """Backups, the audit trail and archive, the registry, application secrets, alerts, the
    budget and the hosted zone."""
    prod = cfg.production
    kms = {role: r.kms for role, r in regions.items()}
    backups, replica_bucket = _backups(cfg, primary, dr, regions, account_id)
    audit = _audit(cfg, primary, dr, kms, account_id)
    repository = cfg.image_repository
    registry = Registry(
        f"{primary.prefix}-registry",
        RegistryArgs(
            repository_name=repository,
            kms_key_arn=kms["primary"].arn("ecr"),
            replica_region=dr.region,
            account_id=account_id,
        ),
        opts=primary.opts("registry"),
    )
    RegistryReplica(
        f"{dr.prefix}-registry",
        RegistryReplicaArgs(repository_name=repository, kms_key_arn=kms["dr"].arn("ecr")),
        opts=dr.opts("registry"),
    )
    provider_keys = {
        provider: pulumi.Output.secret(secret.value)
        for provider in ("deepl", "google", "openai", "anthropic")
        if (secret := getattr(cfg.provider_keys, provider)) is not None
    }
    app_secrets = AppSecrets(
        f"{primary.prefix}-secrets",
        AppSecretsArgs(
            prefix=f"utp/{cfg.environment}",
            kms_key_arn=kms["primary"].arn("secrets"),
            replica_region=dr.region,
            replica_kms_key_arn=kms["dr"].arn("secrets"),
            provider_keys=provider_keys,
            production=prod,
        ),
        opts=primary.opts("secrets"),
    )
    alerts = AlertTopic(
        f"{primary.prefix}-alerts",
        AlertTopicArgs(
            kms_key_arn=kms["primary"].arn("alerts"),
            emails=cfg.budget.emails,
            account_id=account_id,
        ),
        opts=primary.opts("alerting"),
    )
    CostBudget(
        f"utp-{cfg.environment}",
        CostBudgetArgs(
            environment=cfg.environment,
            monthly_usd=cfg.budget.monthly_usd,
            yearly_usd=cfg.budget.yearly_limit_usd,
            emails=cfg.budget.emails,
            topic_arn=alerts.topic.arn,
        ),
        opts=primary.opts("cost"),
    )
    zone = HostedZone(
        f"{primary.prefix}-zone",
        HostedZoneArgs(zone=cfg.dns.zone, production=prod),
        opts=primary.opts("dns"),
    )
    return Shared(
        backups=backups,
        replica_bucket=replica_bucket,
        audit=audit,
        registry=registry,
        app_secrets=app_secrets,
        provider_keys=provider_keys,
        alerts=alerts,
        zone=zone,
    )


def _backups(
    cfg: StackConfig,
    primary: Scope,
    dr: Scope,
    regions: dict[str, Regional],
    account_id: pulumi.Output[str],
) -> tuple[Backups, Backups]:
    """The backup bucket (primary region, written by the backup job) and its DR replica."""
    prod = cfg.production
    kms = {role: r.kms for role, r in regions.items()}
    # Backups: the DR replica bucket first, so the primary can replicate into it.
    replica_bucket = Backups(
        f"{dr.prefix}-backups",
        BackupsArgs(
            bucket_name=pulumi.Output.concat(replica_bucket_prefix(dr.prefix), account_id),
            kms_key_arn=kms["dr"].arn("s3"),
            production=prod,
        ),
        opts=dr.opts("backups"),
    )
    cluster = regions["primary"].cluster
    backups = Backups(
        f"{primary.prefix}-backups",
        BackupsArgs(
            bucket_name=pulumi.Output.concat(f"{primary.prefix}-backups-", account_id),
            kms_key_arn=kms["primary"].arn("s3"),
            production=prod,
            replicate_to=ReplicationTarget(
                bucket_arn=replica_bucket.bucket.arn, kms_key_arn=kms["dr"].arn("s3")
            ),
            writer=BackupIdentity(
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                namespace=BACKUP_NAMESPACE,
                service_account=BACKUP_SERVICE_ACCOUNT,
            ),
        ),
        opts=primary.opts("backups"),
    )
    return backups, replica_bucket


def _workloads(
    cfg: StackConfig, s: Scope, regions: dict[str, Regional], shared: Shared
) -> Workloads:
    """One region's edge (ALB, WAF), CRDs, ingress, secrets operator and the service."""
    here = regions[s.role]
    cluster, prod = here.cluster, cfg.production
    k8s_provider = cluster.k8s_provider
    crds = PrometheusOperatorCrds(
        f"{s.prefix}-prometheus-crds",
        opts=pulumi.ResourceOptions(parent=s.component, providers=[k8s_provider]),
    )
    # Every chart below renders ServiceMonitors: they wait for the CRDs.
    k8s_opts = pulumi.ResourceOptions(
        parent=s.component,
        providers=[s.provider, s.random_provider, k8s_provider],
        depends_on=[crds],
    )

    def tagged(component: str) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(transformations=[component_tag(component)])
        )

    regional_host = regional_hostname(cfg, s.region)
    zone_id = shared.zone.zone.zone_id
    edge = Edge(
        f"{s.prefix}-edge",
        EdgeArgs(
            region=s.region,
            vpc_id=here.network.vpc.id,
            vpc_cidr=_vpc_cidr(cfg, s),
            public_subnet_ids=here.network.public_subnet_ids,
            node_security_group_id=cluster.cluster_security_group_id,
            node_group=cluster.node_group,
            zone_id=zone_id,
            hostnames=(regional_host, cfg.dns.api_hostname),
            health_path=HEALTH_PATH,
            logs_key_arn=here.kms.arn("logs"),
            log_retention_days=cfg.log_retention_days,
            rate_limit_per_5_minutes=cfg.edge.rate_limit_per_5_minutes,
            shield_advanced=cfg.edge.shield_advanced,
            production=prod,
        ),
        opts=s.opts("edge"),
    )
    ingress = Ingress(
        f"{s.prefix}-ingress",
        IngressArgs(
            region=s.region,
            zone_id=zone_id,
            acme_email=cfg.dns.acme_email,
            acme_staging=cfg.dns.acme_staging,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            vpc_cidr=_vpc_cidr(cfg, s),
        ),
        opts=tagged("ingress"),
    )
    operator = SecretsOperator(
        f"{s.prefix}-external-secrets", SecretsOperatorArgs(), opts=tagged("secrets-operator")
    )
    TranslatorService(
        f"{s.prefix}-service",
        _service_args(cfg, s, regions, shared, regional_host, ingress.cluster_issuer),
        opts=pulumi.ResourceOptions(
            parent=s.component,
            providers=[s.provider, s.random_provider, k8s_provider],
            depends_on=[crds, operator, ingress],
            transformations=[component_tag("service")],
        ),
    )
    return Workloads(
        regional_host=regional_host, edge=edge, ingress=ingress, operator=operator, crds=crds
    )


def _service_args(
    cfg: StackConfig,
    s: Scope,
    regions: dict[str, Regional],
    shared: Shared,
    regional_host: str,
    cluster_issuer: str,
) -> TranslatorServiceArgs:
    """The translator service's arguments in one region."""
    here, svc, d = regions[s.role], cfg.service, cfg.database
    assert here.database is not None and here.cache is not None
    assert here.master_secret_arn is not None
    is_primary = s.role == "primary"
    backups, secrets = shared.backups, shared.app_secrets

    def regional(arn: pulumi.Output[str]) -> pulumi.Output[str]:
        return arn.apply(lambda a: _in_region(a, s.region))

    return TranslatorServiceArgs(
        region=s.region,
        image_repository=shared.registry.repository.repository_url.apply(
            # Each region pulls from its own replica of the repository.
            lambda url: url.replace(cfg.primary_region, s.region)
        ),
        image_tag=svc.image_tag,
        hostname=cfg.dns.api_hostname,
        regional_hostname=regional_host,
        cluster_issuer=cluster_issuer,
        vpc_cidr=_vpc_cidr(cfg, s),
        oidc_provider_arn=here.cluster.oidc_provider_arn,
        oidc_issuer=here.cluster.oidc_issuer,
        # Physical replication keeps the primary's roles: the same credentials.
        database_secret_arn=here.master_secret_arn,
        database_secret_region=s.region,
        database_host=here.database.instance.address,
        database_name=d.name,
        redis_host=here.cache.replication_group.primary_endpoint_address,
        redis_secret_arn=here.cache.auth_secret.arn,
        # The application secrets are replicated to the DR region: each region's
        # SecretStore reads its own copy (a us-east-1 ARN fails from us-west-2).
        secret_key_arn=regional(secrets.secrets["secret-key"].arn),
        encryption_key_arn=regional(secrets.secrets["encryption-key"].arn),
        provider_key_arns={
            p: regional(secrets.secrets[f"{p}-api-key"].arn) for p in shared.provider_keys
        },
        kms_key_arns=[
            regions["primary"].kms.arn("secrets"),
            regions["dr"].kms.arn("secrets"),
            regions["primary"].kms.arn("rds"),
        ],
        min_replicas=svc.min_replicas,
        max_replicas=svc.max_replicas if is_primary else svc.dr_max_replicas,
        cpu_request=svc.cpu_request,
        cpu_limit=svc.cpu_limit,
        memory_request=svc.memory_request,
        memory_limit=svc.memory_limit,
        log_level=svc.log_level,
        run_migrations=is_primary,
        backup_bucket=backups.bucket.bucket if is_primary else None,
        backup_role_arn=backups.writer_role.arn
        if is_primary and backups.writer_role is not None
        else None,
        backup_prune_role_arn=backups.prune_role.arn
        if is_primary and backups.prune_role is not None
        else None,
        backup_schedule=svc.backup_schedule,
        namespace=BACKUP_NAMESPACE,
        backup_service_account=BACKUP_SERVICE_ACCOUNT,
    )


def _monitoring(
    cfg: StackConfig,
    s: Scope,
    regions: dict[str, Regional],
    workloads: Workloads,
    health_checks: list[pulumi.Output[str]],
    logs: Backups,
) -> None:
    """One region's monitoring: its own database and cache, Route 53 metrics where they are,
    Loki in its own region's log bucket."""
    here = regions[s.role]
    assert here.database is not None and here.cache is not None
    assert here.master_secret_arn is not None
    Monitoring(
        f"{s.prefix}-monitoring",
        MonitoringArgs(
            cluster_name=cluster_name(s.prefix),
            logs=LogBucket(
                name=logs.bucket.bucket, arn=logs.bucket.arn, kms_key_arn=here.kms.arn("s3")
            ),
            region=s.region,
            alerting=_alerting(cfg),
            oidc_provider_arn=here.cluster.oidc_provider_arn,
            oidc_issuer=here.cluster.oidc_issuer,
            # Each cluster watches its own region's database: the primary, or the replica
            # with the primary's credentials (physical replication keeps the same roles).
            postgres=PostgresTarget(
                instance_id=here.database.instance.identifier,
                host=here.database.instance.address,
                database=cfg.database.name,
                credentials_secret_arn=here.master_secret_arn,
                credentials_region=s.region,
            ),
            redis=RedisTarget(
                replication_group_id=here.cache.replication_group.replication_group_id,
                host=here.cache.replication_group.primary_endpoint_address,
                auth_secret_arn=here.cache.auth_secret.arn,
            ),
            cloudwatch=CloudWatchTargets(
                rds_instance_ids=[here.database.instance.identifier],
                route53_health_check_ids=health_checks
                if s.region == ROUTE53_METRICS_REGION
                else [],
            ),
            secrets_kms_key_arns=[
                here.kms.arn("secrets"),
                regions["primary"].kms.arn("rds"),
            ],
        ),
        opts=pulumi.ResourceOptions(
            parent=s.component,
            providers=[s.provider, s.random_provider, here.cluster.k8s_provider],
            # ServiceMonitors and PrometheusRules need the CRDs; ExternalSecrets the
            # operator's.
            depends_on=[workloads.crds, workloads.operator],
            transformations=[component_tag("monitoring")],
        ),
    )


def _exports(
    cfg: StackConfig, dr: Scope, regions: dict[str, Regional], shared: Shared, dns: FailoverDns
) -> None:
    databases = {role: r.database for role, r in regions.items()}
    primary_db, replica_db = databases["primary"], databases["dr"]
    assert primary_db is not None and replica_db is not None
    pulumi.export("primaryRegion", cfg.primary_region)
    pulumi.export("drRegion", cfg.dr_region)
    pulumi.export("apiHostname", cfg.dns.api_hostname)
    pulumi.export("nameServers", shared.zone.zone.name_servers)
    pulumi.export("primaryClusterName", regions["primary"].cluster.cluster.name)
    pulumi.export("drClusterName", regions["dr"].cluster.cluster.name)
    pulumi.export("databaseEndpoint", primary_db.instance.address)
    pulumi.export("replicaEndpoint", replica_db.instance.address)
    pulumi.export("replicaArn", replica_db.instance.arn)
    pulumi.export(
        "redisEndpoints",
        {
            role: r.cache.replication_group.primary_endpoint_address
            for role, r in regions.items()
            if r.cache is not None
        },
    )
    pulumi.export("backupBucket", shared.backups.bucket.bucket)
    pulumi.export("replicaBucket", shared.replica_bucket.bucket.bucket)
    pulumi.export("repositoryUrl", shared.registry.repository.repository_url)
    pulumi.export("primaryHealthCheckId", dns.primary_health_check.id)
    pulumi.export("drRunbook", dr_runbook(cfg, dr.prefix))
    trail = shared.audit["primary"].trail
    assert trail is not None
    pulumi.export("auditTrailArn", trail.arn)


def _vpc_cidr(cfg: StackConfig, s: Scope) -> str:
    return cfg.network.primary_cidr if s.role == "primary" else cfg.network.dr_cidr


# The log archive keeps a year (the overview's promise), cheaper with age; nobody deletes.
ARCHIVE_DAYS = 365
ARCHIVE_TRANSITIONS: tuple[tuple[int, str], ...] = ((30, "STANDARD_IA"), (90, "GLACIER"))
LOG_DELIVERY_SERVICES = ("cloudtrail.amazonaws.com", "config.amazonaws.com")


# Loki's bucket: Loki serves 30 days (infra/monitoring/logging.yaml) and its compactor then
# deletes; the deleted objects stay as noncurrent versions for the rest of the year.
LOKI_ARCHIVE_NONCURRENT_DAYS = ARCHIVE_DAYS - 30
# Loki still reads what it serves, and its compactor's delete-request table never ages out:
# only classes with millisecond reads (no Glacier Flexible/Deep Archive).
LOKI_TRANSITIONS: tuple[tuple[int, str], ...] = ((30, "STANDARD_IA"),)


def _loki_buckets(
    cfg: StackConfig,
    primary: Scope,
    dr: Scope,
    regions: dict[str, Regional],
    account_id: pulumi.Output[str],
) -> dict[str, Backups]:
    """Each region's Loki bucket (`<prefix>-loki-<account>`, SSE-KMS with the region's `s3`
    key), replicated to `<other prefix>-loki-replica-<account>` in the other region: the
    operational logs and their one-year archive."""

    def bucket(s: Scope, name: str, replicate_to: ReplicationTarget | None = None) -> Backups:
        return Backups(
            name,
            BackupsArgs(
                bucket_name=pulumi.Output.concat(f"{name}-", account_id),
                kms_key_arn=regions[s.role].kms.arn("s3"),
                production=cfg.production,
                noncurrent_expiry_days=LOKI_ARCHIVE_NONCURRENT_DAYS,
                expiry_days=ARCHIVE_DAYS,
                transitions=LOKI_TRANSITIONS,
                deny_version_deletes=True,
                replicate_to=replicate_to,
            ),
            opts=s.opts("monitoring"),
        )

    buckets: dict[str, Backups] = {}
    for s, other in ((primary, dr), (dr, primary)):
        replica = bucket(other, f"{other.prefix}-loki-replica")
        buckets[s.role] = bucket(
            s,
            f"{s.prefix}-loki",
            ReplicationTarget(
                bucket_arn=replica.bucket.arn, kms_key_arn=regions[other.role].kms.arn("s3")
            ),
        )
    return buckets


def _audit(
    cfg: StackConfig,
    primary: Scope,
    dr: Scope,
    kms: dict[str, Kms],
    account_id: pulumi.Output[str],
) -> dict[str, Audit]:
    """The log archive (primary region, replicated to DR), CloudTrail, GuardDuty and AWS
    Config in both regions."""
    archive: dict[str, Backups] = {}
    for s in (dr, primary):  # the replica first, so the primary can replicate into it
        replica = s.role == "dr"
        archive[s.role] = Backups(
            f"{s.prefix}-audit-logs",
            BackupsArgs(
                bucket_name=pulumi.Output.concat(
                    f"{s.prefix}-audit-replica-" if replica else f"{s.prefix}-audit-", account_id
                ),
                kms_key_arn=kms[s.role].arn("audit"),
                production=cfg.production,
                noncurrent_expiry_days=30,
                expiry_days=ARCHIVE_DAYS,
                transitions=ARCHIVE_TRANSITIONS,
                deny_deletes=True,
                replicate_to=None
                if replica
                else ReplicationTarget(
                    bucket_arn=archive["dr"].bucket.arn, kms_key_arn=kms["dr"].arn("audit")
                ),
                log_delivery_services=() if replica else LOG_DELIVERY_SERVICES,
                account_id=account_id,
            ),
            opts=s.opts("audit"),
        )
    bucket = archive["primary"].bucket
    audits: dict[str, Audit] = {}
    for s in (primary, dr):
        audits[s.role] = Audit(
            f"{s.prefix}-audit",
            AuditArgs(
                region=s.region,
                archive_bucket=bucket.bucket,
                archive_bucket_arn=bucket.arn,
                archive_key_arn=kms["primary"].arn("audit"),
                primary=s.role == "primary",
                config_role_arn=None if s.role == "primary" else audits["primary"].config_role_arn,
            ),
            # The trail and Config check the bucket policy when they are created.
            opts=s.opts("audit", depends_on=[archive["primary"]]),
        )
    return audits


# Offline (`utp-infra plan`, tests) a `secure:` value is only a placeholder; these stand in
# for it with the right shape, so the routing tree is built as it would be for real.
OFFLINE_SLACK_WEBHOOK = "https://hooks.slack.com/services/OFFLINE/PLACEHOLDER"
OFFLINE_ROUTING_KEY = "offline-placeholder-routing-key"


def plan_warnings(cfg: StackConfig) -> list[str]:
    """What the stack cannot deliver as configured; `pulumi preview` and `utp-infra plan`
    both print these."""
    warnings = []
    if ROUTE53_METRICS_REGION not in cfg.regions:
        warnings.append(
            f"Route 53 health-check metrics exist only in {ROUTE53_METRICS_REGION}, which is"
            " neither region: Route53HealthCheckFailing cannot fire."
        )
    if not cfg.alerting.configured:
        # Every stack, staging too: a silent null receiver looks exactly like "no alerts".
        warnings.append(
            "NO ALERT RECEIVER: utp:alerting.slackWebhookUrl is not set, so every alert goes to"
            " the null receiver (visible in Alertmanager and Grafana only; nobody is paged)."
            " Set it as described in docs/platform.md, 'Alert receivers'."
        )
    return warnings


def _secret(value: SecretValue, offline: str) -> pulumi.Output[str]:
    return pulumi.Output.secret(offline if value.offline else value.value)


def _alerting(cfg: StackConfig) -> AlertingArgs | None:
    a = cfg.alerting
    if a.slack_webhook_url is None:
        return None
    return AlertingArgs(
        slack_webhook_url=_secret(a.slack_webhook_url, OFFLINE_SLACK_WEBHOOK),
        pagerduty_routing_key=_secret(a.pagerduty_routing_key, OFFLINE_ROUTING_KEY)
        if a.pagerduty_routing_key is not None
        else None,
        warning_channel=a.warning_channel,
        critical_channel=a.critical_channel,
        runbook_base_url=a.runbook_base_url,
    )


def dr_runbook(cfg: StackConfig, dr_prefix: str) -> str:
    """How to fail over to the DR region (RTO 15 min, RPO 5 min): the command does every step,
    finding the resources by the names above (docs/operations.md#dr-failover)."""
    env = cfg.environment
    return "\n".join(
        [
            f"DR ({env}): {cfg.dr_region} ({database_identifier(dr_prefix)}) takes over when"
            f" {cfg.primary_region} is lost. Needs only {cfg.dr_region} APIs and no Pulumi run.",
            f"  utp-infra dr status --stack {env}",
            f"  utp-infra dr failover --stack {env} --dry-run   # the plan, step by step",
            f"  utp-infra dr failover --stack {env}             # idempotent: re-run to resume",
            f"  utp-infra dr failback --stack {env}             # after {cfg.primary_region} is"
            " rebuilt as a replica; never automatic",
            "Do not `pulumi up` while failed over: see docs/operations.md#dr-reconcile.",
        ]
    )
