"""The Pulumi program: typed config -> a provider per region -> components, wired across regions."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.alerts import AlertTopic, AlertTopicArgs, CostBudget, CostBudgetArgs
from infra.autoscaling import Autoscaling, AutoscalingArgs
from infra.backups import BackupIdentity, Backups, BackupsArgs, ReplicationTarget
from infra.cache import Cache, CacheArgs
from infra.crds import PrometheusOperatorCrds
from infra.database import Database, DatabaseArgs
from infra.dns import FailoverDns, FailoverDnsArgs, HostedZone, HostedZoneArgs, RegionalEndpoint
from infra.eks import EksCluster, EksClusterArgs
from infra.ingress import Ingress, IngressArgs
from infra.kms import Kms, KmsArgs
from infra.monitoring import (
    ROUTE53_METRICS_REGION,
    AlertingArgs,
    CloudWatchTargets,
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

    def opts(self, **extra: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self.component,
            providers=[self.provider, self.random_provider],
            **extra,  # type: ignore[arg-type]
        )


def cost_tags(cfg: StackConfig, role: str) -> dict[str, str]:
    """Every resource's tags (the provider's default tags; launch templates copy them onto what
    they launch). Activate Project, Environment and Component as cost-allocation tags in the
    billing console: the budget filters on Environment."""
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


def program(cfg: StackConfig, *, stack: str) -> None:
    """Build both regions of `stack`; called by `stacks/__main__.py` and under mocks."""
    del stack  # the config already carries the environment; the name is for symmetry
    primary = _scope(cfg, role="primary", region=cfg.primary_region)
    dr = _scope(cfg, role="dr", region=cfg.dr_region)
    account_id = aws.get_caller_identity_output(
        opts=pulumi.InvokeOutputOptions(provider=primary.provider)
    ).account_id
    prod = cfg.production

    kms = {
        s.role: Kms(
            f"{s.prefix}-kms",
            KmsArgs(region=s.region, account_id=account_id, protect=prod),
            opts=s.opts(),
        )
        for s in (primary, dr)
    }
    networks = {
        s.role: Network(
            f"{s.prefix}-net",
            NetworkArgs(
                region=s.region,
                cidr=cfg.network.primary_cidr if s.role == "primary" else cfg.network.dr_cidr,
                azs=_azs(s.region),
                single_nat_gateway=cfg.network.nat_gateways == "single",
                flow_log_key_arn=kms[s.role].arn("logs"),
                flow_log_retention_days=cfg.network.flow_log_retention_days,
                cluster_name=cluster_name(s.prefix),
            ),
            opts=s.opts(),
        )
        for s in (primary, dr)
    }
    c = cfg.cluster
    clusters = {
        s.role: EksCluster(
            cluster_name(s.prefix),
            EksClusterArgs(
                region=s.region,
                kubernetes_version=c.kubernetes_version,
                vpc_id=networks[s.role].vpc.id,
                subnet_ids=networks[s.role].private_subnet_ids,
                secrets_key_arn=kms[s.role].arn("eks"),
                logs_key_arn=kms[s.role].arn("logs"),
                log_retention_days=c.log_retention_days,
                public_access_cidrs=c.public_access_cidrs,
                instance_types=c.instance_types,
                min_nodes=c.min_nodes if s.role == "primary" else c.dr_min_nodes,
                desired_nodes=c.desired_nodes if s.role == "primary" else c.dr_desired_nodes,
                max_nodes=c.max_nodes if s.role == "primary" else c.dr_max_nodes,
                node_disk_gib=c.node_disk_gib,
                admin_role_arns=c.cluster_admins,
                cost_tags=cost_tags(cfg, s.role),
                spot_instance_types=c.spot_instance_types,
                spot_max_nodes=c.spot_max_nodes,
            ),
            opts=s.opts(),
        )
        for s in (primary, dr)
    }
    for s in (primary, dr):
        Autoscaling(
            f"{s.prefix}-autoscaling",
            AutoscalingArgs(
                cluster_name=clusters[s.role].cluster.name,
                region=s.region,
                kubernetes_version=c.kubernetes_version,
                oidc_provider_arn=clusters[s.role].oidc_provider_arn,
                oidc_issuer=clusters[s.role].oidc_issuer,
            ),
            opts=pulumi.ResourceOptions(
                parent=s.component,
                providers=[s.provider, clusters[s.role].k8s_provider],
            ),
        )
    d = cfg.database
    databases: dict[str, Database] = {}
    for s in (primary, dr):
        databases[s.role] = Database(
            database_identifier(s.prefix),
            DatabaseArgs(
                region=s.region,
                vpc_id=networks[s.role].vpc.id,
                subnet_ids=networks[s.role].database_subnet_ids,
                client_security_group_ids=[clusters[s.role].cluster_security_group_id],
                kms_key_arn=kms[s.role].arn("rds"),
                logs_key_arn=kms[s.role].arn("logs"),
                log_retention_days=cfg.log_retention_days,
                instance_class=d.instance_class
                if s.role == "primary"
                else d.replica_instance_class,
                engine_version=d.engine_version,
                allocated_storage_gib=d.allocated_storage_gib,
                max_allocated_storage_gib=d.max_allocated_storage_gib,
                backup_retention_days=d.backup_retention_days,
                multi_az=True if s.role == "primary" else prod,
                db_name=d.name,
                username=d.username,
                production=prod,
                replicate_source_db=None
                if s.role == "primary"
                else databases["primary"].instance.arn,
                # The secrets keys: the keys the service and exporters may already decrypt with.
                secret_kms_key_arn=kms[s.role].arn("secrets"),
                secret_replica_region=dr.region if s.role == "primary" else None,
                secret_replica_kms_key_arn=kms["dr"].arn("secrets"),
                password_rotation=d.password_rotation,
            ),
            opts=s.opts(),
        )

    # The master credentials live in us-east-1 and, replicated, in the DR region: each region
    # reads its own copy, so the DR side keeps working when the primary region is gone.
    master = databases["primary"].master_secret
    assert master is not None
    master_secret_arns = {
        s.role: master.arn.apply(lambda arn, region=s.region: _in_region(arn, region))
        for s in (primary, dr)
    }

    caches = {
        s.role: Cache(
            f"{s.prefix}-cache",
            CacheArgs(
                vpc_id=networks[s.role].vpc.id,
                subnet_ids=networks[s.role].database_subnet_ids,
                client_security_group_ids=[clusters[s.role].cluster_security_group_id],
                kms_key_arn=kms[s.role].arn("elasticache"),
                secrets_key_arn=kms[s.role].arn("secrets"),
                logs_key_arn=kms[s.role].arn("logs"),
                log_retention_days=cfg.log_retention_days,
                node_type=cfg.cache.node_type,
                nodes=cfg.cache.nodes,
                engine_version=cfg.cache.engine_version,
                snapshot_retention_days=cfg.cache.snapshot_retention_days,
                production=prod,
            ),
            opts=s.opts(),
        )
        for s in (primary, dr)
    }

    # Backups: the DR replica bucket first, so the primary can replicate into it.
    backup_ns, backup_sa = "utp", "utp-backup"
    replica_bucket = Backups(
        f"{dr.prefix}-backups",
        BackupsArgs(
            bucket_name=pulumi.Output.concat(replica_bucket_prefix(dr.prefix), account_id),
            kms_key_arn=kms["dr"].arn("s3"),
            production=prod,
        ),
        opts=dr.opts(),
    )
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
                oidc_provider_arn=clusters["primary"].oidc_provider_arn,
                oidc_issuer=clusters["primary"].oidc_issuer,
                namespace=backup_ns,
                service_account=backup_sa,
            ),
        ),
        opts=primary.opts(),
    )

    repository = cfg.image_repository
    registry = Registry(
        f"{primary.prefix}-registry",
        RegistryArgs(
            repository_name=repository,
            kms_key_arn=kms["primary"].arn("ecr"),
            replica_region=dr.region,
            account_id=account_id,
        ),
        opts=primary.opts(),
    )
    RegistryReplica(
        f"{dr.prefix}-registry",
        RegistryReplicaArgs(repository_name=repository, kms_key_arn=kms["dr"].arn("ecr")),
        opts=dr.opts(),
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
        opts=primary.opts(),
    )

    alerts = AlertTopic(
        f"{primary.prefix}-alerts",
        AlertTopicArgs(
            kms_key_arn=kms["primary"].arn("alerts"),
            emails=cfg.budget.emails,
            account_id=account_id,
        ),
        opts=primary.opts(),
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
        opts=primary.opts(),
    )
    zone = HostedZone(
        f"{primary.prefix}-zone",
        HostedZoneArgs(zone=cfg.dns.zone, production=prod),
        opts=primary.opts(),
    )

    regional_hosts: dict[str, str] = {}
    ingresses: dict[str, Ingress] = {}
    operators: dict[str, SecretsOperator] = {}
    crds: dict[str, PrometheusOperatorCrds] = {}
    for s in (primary, dr):
        k8s_provider = clusters[s.role].k8s_provider
        crds[s.role] = PrometheusOperatorCrds(
            f"{s.prefix}-prometheus-crds",
            opts=pulumi.ResourceOptions(parent=s.component, providers=[k8s_provider]),
        )
        # Every chart below renders ServiceMonitors: they wait for the CRDs.
        k8s_opts = pulumi.ResourceOptions(
            parent=s.component,
            providers=[s.provider, s.random_provider, k8s_provider],
            depends_on=[crds[s.role]],
        )
        regional_hosts[s.role] = regional_hostname(cfg, s.region)
        ingresses[s.role] = Ingress(
            f"{s.prefix}-ingress",
            IngressArgs(
                region=s.region,
                zone_id=zone.zone.zone_id,
                acme_email=cfg.dns.acme_email,
                acme_staging=cfg.dns.acme_staging,
                oidc_provider_arn=clusters[s.role].oidc_provider_arn,
                oidc_issuer=clusters[s.role].oidc_issuer,
            ),
            opts=k8s_opts,
        )
        operator = SecretsOperator(
            f"{s.prefix}-external-secrets", SecretsOperatorArgs(), opts=k8s_opts
        )
        operators[s.role] = operator
        is_primary = s.role == "primary"
        svc = cfg.service

        def regional(arn: pulumi.Output[str], region: str = s.region) -> pulumi.Output[str]:
            return arn.apply(lambda a: _in_region(a, region))

        TranslatorService(
            f"{s.prefix}-service",
            TranslatorServiceArgs(
                region=s.region,
                image_repository=registry.repository.repository_url.apply(
                    # Each region pulls from its own replica of the repository.
                    lambda url, region=s.region: url.replace(cfg.primary_region, region)
                ),
                image_tag=svc.image_tag,
                hostname=cfg.dns.api_hostname,
                regional_hostname=regional_hosts[s.role],
                cluster_issuer=ingresses[s.role].cluster_issuer,
                vpc_cidr=cfg.network.primary_cidr if is_primary else cfg.network.dr_cidr,
                oidc_provider_arn=clusters[s.role].oidc_provider_arn,
                oidc_issuer=clusters[s.role].oidc_issuer,
                # Physical replication keeps the primary's roles: the same credentials.
                database_secret_arn=master_secret_arns[s.role],
                database_secret_region=s.region,
                database_host=databases[s.role].instance.address,
                database_name=d.name,
                redis_host=caches[s.role].replication_group.primary_endpoint_address,
                redis_secret_arn=caches[s.role].auth_secret.arn,
                # The application secrets are replicated to the DR region: each region's
                # SecretStore reads its own copy (a us-east-1 ARN fails from us-west-2).
                secret_key_arn=regional(app_secrets.secrets["secret-key"].arn),
                encryption_key_arn=regional(app_secrets.secrets["encryption-key"].arn),
                provider_key_arns={
                    p: regional(app_secrets.secrets[f"{p}-api-key"].arn) for p in provider_keys
                },
                kms_key_arns=[
                    kms["primary"].arn("secrets"),
                    kms["dr"].arn("secrets"),
                    kms["primary"].arn("rds"),
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
                namespace=backup_ns,
                backup_service_account=backup_sa,
            ),
            opts=pulumi.ResourceOptions(
                parent=s.component,
                providers=[s.provider, s.random_provider, k8s_provider],
                depends_on=[crds[s.role], operator, ingresses[s.role]],
            ),
        )

    dns = FailoverDns(
        f"{primary.prefix}-failover",
        FailoverDnsArgs(
            zone_id=zone.zone.zone_id,
            hostname=cfg.dns.api_hostname,
            primary=RegionalEndpoint(
                name=regional_hosts["primary"],
                target=ingresses["primary"].load_balancer_hostname,
            ),
            secondary=RegionalEndpoint(
                name=regional_hosts["dr"], target=ingresses["dr"].load_balancer_hostname
            ),
            alarm_topic_arn=alerts.topic.arn,
        ),
        opts=primary.opts(),
    )

    # After the failover records: cloudwatch-exporter watches their health checks.
    alerting = _alerting(cfg)
    health_checks = [dns.primary_health_check.id, dns.secondary_health_check.id]
    for s in (primary, dr):
        Monitoring(
            f"{s.prefix}-monitoring",
            MonitoringArgs(
                cluster_name=cluster_name(s.prefix),
                region=s.region,
                alerting=alerting,
                oidc_provider_arn=clusters[s.role].oidc_provider_arn,
                oidc_issuer=clusters[s.role].oidc_issuer,
                # Each cluster watches its own region's database: the primary, or the replica
                # with the primary's credentials (physical replication keeps the same roles).
                postgres=PostgresTarget(
                    instance_id=databases[s.role].instance.identifier,
                    host=databases[s.role].instance.address,
                    database=d.name,
                    credentials_secret_arn=master_secret_arns[s.role],
                    credentials_region=s.region,
                ),
                redis=RedisTarget(
                    replication_group_id=caches[s.role].replication_group.replication_group_id,
                    host=caches[s.role].replication_group.primary_endpoint_address,
                    auth_secret_arn=caches[s.role].auth_secret.arn,
                ),
                cloudwatch=CloudWatchTargets(
                    rds_instance_ids=[databases[s.role].instance.identifier],
                    route53_health_check_ids=health_checks
                    if s.region == ROUTE53_METRICS_REGION
                    else [],
                ),
                secrets_kms_key_arns=[
                    kms[s.role].arn("secrets"),
                    kms["primary"].arn("rds"),
                ],
            ),
            opts=pulumi.ResourceOptions(
                parent=s.component,
                providers=[s.provider, s.random_provider, clusters[s.role].k8s_provider],
                # ServiceMonitors and PrometheusRules need the CRDs; ExternalSecrets the
                # operator's.
                depends_on=[crds[s.role], operators[s.role]],
            ),
        )
    for warning in plan_warnings(cfg):
        pulumi.log.warn(warning)

    pulumi.export("primaryRegion", cfg.primary_region)
    pulumi.export("drRegion", cfg.dr_region)
    pulumi.export("apiHostname", cfg.dns.api_hostname)
    pulumi.export("nameServers", zone.zone.name_servers)
    pulumi.export("primaryClusterName", clusters["primary"].cluster.name)
    pulumi.export("drClusterName", clusters["dr"].cluster.name)
    pulumi.export("databaseEndpoint", databases["primary"].instance.address)
    pulumi.export("replicaEndpoint", databases["dr"].instance.address)
    pulumi.export("replicaArn", databases["dr"].instance.arn)
    pulumi.export(
        "redisEndpoints",
        {r: c.replication_group.primary_endpoint_address for r, c in caches.items()},
    )
    pulumi.export("backupBucket", backups.bucket.bucket)
    pulumi.export("replicaBucket", replica_bucket.bucket.bucket)
    pulumi.export("repositoryUrl", registry.repository.repository_url)
    pulumi.export("primaryHealthCheckId", dns.primary_health_check.id)
    pulumi.export("drRunbook", dr_runbook(cfg, dr.prefix))


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
