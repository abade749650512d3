"""RDS PostgreSQL 16: a Multi-AZ primary, or a cross-region read replica of one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra._util import service_role

PARAMETERS: dict[str, str] = {
    "rds.force_ssl": "1",
    # Slow queries (ms) and lock waits are what an on-call engineer looks for first.
    "log_min_duration_statement": "500",
    "log_lock_waits": "1",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_temp_files": "0",
    "log_statement": "ddl",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "idle_in_transaction_session_timeout": "60000",
}
# Static parameters that take effect after a reboot rather than immediately.
_REBOOT = {"shared_preload_libraries"}

# Maintenance is promised inside Sunday 02:00-04:00 UTC; the database takes the first hour and
# the cache (infra/cache.py) the second, so both are never patched at once. RDS refuses a
# backup window that overlaps the maintenance window, so the daily backup runs before it.
MAINTENANCE_WINDOW = "sun:02:00-sun:03:00"
BACKUP_WINDOW = "00:30-01:30"
LOG_EXPORTS: tuple[str, ...] = ("postgresql", "upgrade")


def master_secret_name(database: str) -> str:
    """The primary's master-credentials secret (the same name in its replica region)."""
    return f"{database}/master-credentials"


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # Security groups (the cluster's) allowed to reach port 5432.
    client_security_group_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]  # storage, Performance Insights and master secret
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    instance_class: str
    # The major version only: RDS picks the newest 16.x and auto minor upgrades move it on;
    # a pinned minor would turn AWS's first minor upgrade into a downgrade on the next `up`.
    engine_version: str = "16"
    allocated_storage_gib: int = 100
    max_allocated_storage_gib: int = 1000
    backup_retention_days: int = 7
    multi_az: bool = True
    db_name: str = "utp"
    username: str = "utp_admin"
    production: bool = False
    # Set for a read replica: the source instance's ARN (cross-region replicas need the ARN).
    replicate_source_db: pulumi.Input[str] | None = None
    # Primary: where the master-credentials secret is replicated (the replica's region), so
    # the DR side reads its credentials without the primary region.
    secret_kms_key_arn: pulumi.Input[str] | None = None  # default: kms_key_arn
    secret_replica_region: str | None = None
    secret_replica_kms_key_arn: pulumi.Input[str] | None = None
    # Bump to rotate the master password on the next `pulumi up` (new value, new secret
    # version; External Secrets picks it up within its refresh interval).
    password_rotation: int = 1


class Database(pulumi.ComponentResource):
    """Creates a subnet group, a security group open only to the given client groups on 5432, a
    postgres16 parameter group (`rds.force_ssl=1`, slow-query and lock logging), KMS-encrypted
    log groups for the exported logs, an enhanced-monitoring role and the RDS instance: gp3 with
    storage autoscaling, CMK encryption, Performance Insights with KMS, backups, deletion
    protection and a final snapshot in production. The primary's master password is generated
    here (pulumi-random, a Pulumi secret) and kept as `{"username", "password"}` in a
    KMS-encrypted Secrets Manager secret replicated to the replica's region: RDS cannot create a
    read replica of an instance that manages its own master password in Secrets Manager.
    With `replicate_source_db` it is a promotable cross-region read replica instead (no final
    snapshot: RDS takes none of a replica).
    """

    instance: aws.rds.Instance
    security_group: aws.ec2.SecurityGroup
    master_secret: aws.secretsmanager.Secret | None

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:database:Database", name, None, opts)
        if not args.engine_version.startswith("16"):
            raise ValueError("the service is built and tested on PostgreSQL 16")
        if args.backup_retention_days < 1:
            raise ValueError("backup retention must be > 0 (a replica needs it to be promotable)")
        replica = args.replicate_source_db is not None
        self.master_secret = None
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"{name} database subnets",
            opts=child,
        )
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{name}: PostgreSQL from the cluster only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 5432,
                    "to_port": 5432,
                    "security_groups": list(args.client_security_group_ids),
                    "description": "EKS workloads",
                }
            ],
            opts=child,
        )
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            family="postgres16",
            description=f"{name} postgres16",
            parameters=[
                {
                    "name": key,
                    "value": value,
                    "apply_method": "pending-reboot" if key in _REBOOT else "immediate",
                }
                for key, value in PARAMETERS.items()
            ],
            opts=child,
        )
        monitoring = service_role(
            f"{name}-monitoring-role",
            service="monitoring.rds.amazonaws.com",
            managed_policy_arn=(
                "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
            ),
            attachment_name=f"{name}-monitoring-policy",
            opts=child,
        )
        # Exported logs land here; created first so they are encrypted and retention-bound.
        groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{log}",
                name=f"/aws/rds/instance/{name}/{log}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_key_arn,
                opts=child,
            )
            for log in LOG_EXPORTS
        ]
        instance_opts = pulumi.ResourceOptions(
            parent=self, protect=args.production, depends_on=list(groups)
        )
        primary = not replica
        password = self._create_credentials(name, args) if primary else None
        self.instance = aws.rds.Instance(
            f"{name}-{'replica' if replica else 'primary'}",
            identifier=name,
            replicate_source_db=args.replicate_source_db,
            # A replica inherits engine, size, database and credentials from its source.
            engine="postgres" if primary else None,
            engine_version=args.engine_version if primary else None,
            allocated_storage=args.allocated_storage_gib if primary else None,
            db_name=args.db_name if primary else None,
            username=args.username if primary else None,
            password=password,
            instance_class=args.instance_class,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            max_allocated_storage=args.max_allocated_storage_gib,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=7,
            monitoring_interval=30,
            monitoring_role_arn=monitoring.arn,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            iam_database_authentication_enabled=True,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            deletion_protection=args.production,
            # A replica has no final snapshot: asking for one makes its deletion fail.
            skip_final_snapshot=replica or not args.production,
            final_snapshot_identifier=f"{name}-final" if args.production and primary else None,
            delete_automated_backups=not args.production,
            opts=instance_opts,
        )
        if self.master_secret is not None and password is not None:
            aws.secretsmanager.SecretVersion(
                f"{name}-master-credentials-value",
                secret_id=self.master_secret.id,
                secret_string=pulumi.Output.secret(
                    pulumi.Output.json_dumps({"username": args.username, "password": password})
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs(
            {
                "arn": self.instance.arn,
                "address": self.instance.address,
                "security_group_id": self.security_group.id,
            }
        )

    def _create_credentials(self, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
        """The generated master password and the secret that holds it (replicated)."""
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(
            f"{name}-master-password",
            length=40,
            # RDS refuses '/', '@', '"' and spaces; letters and digits also survive URLs.
            special=False,
            keepers={"rotation": str(args.password_rotation)},
            opts=child,
        )
        replicas = (
            [{"region": args.secret_replica_region, "kms_key_id": args.secret_replica_kms_key_arn}]
            if args.secret_replica_region
            else None
        )
        self.master_secret = aws.secretsmanager.Secret(
            f"{name}-master-credentials",
            name=master_secret_name(name),
            description=f"{name} master user (username, password); rotate via passwordRotation",
            kms_key_id=args.secret_kms_key_arn or args.kms_key_arn,
            recovery_window_in_days=30 if args.production else 7,
            replicas=replicas,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        return password.result
