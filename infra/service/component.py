"""The TranslatorService component: validates its args and creates its children in order."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra._k8s import namespace
from infra.service.api import create_deployment, create_exposure, create_service_account
from infra.service.args import TranslatorServiceArgs
from infra.service.env import PROVIDERS, create_config_map, env_refs
from infra.service.guardrails import create_guardrails
from infra.service.jobs import (
    create_backup_cronjob,
    create_backup_metrics,
    create_migration_job,
    create_prune_cronjob,
)
from infra.service.network import allow_backup_metrics_traffic, create_network_policies
from infra.service.scope import Scope
from infra.service.secrets import create_external_secret


class TranslatorService(pulumi.ComponentResource):
    """Creates the app namespace (restricted Pod Security), ResourceQuota and LimitRange,
    default-deny NetworkPolicies with explicit allows (Traefik and Prometheus in; DNS, the
    VPC's PostgreSQL and Redis, HTTPS out), an IRSA-backed SecretStore and an ExternalSecret
    that assembles the database URL (from the RDS-managed secret), Redis URL, signing key and
    provider keys, a ConfigMap, a migration Job (`utp db upgrade`) the Deployment waits for,
    the hardened Deployment with probes, Service, ServiceMonitor, TLS Ingress, HPA (CPU and
    memory), PDB (minAvailable 1) and, with a backup bucket, a backup CronJob plus the
    backup-metrics Deployment (Service, ServiceMonitor, PDB, NetworkPolicies, an IRSA role that
    may only list the bucket) exporting `utp_backup_last_success_timestamp_seconds` read from
    the bucket.
    """

    def __init__(
        self, name: str, args: TranslatorServiceArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("utp:service:TranslatorService", name, None, opts)
        if not 2 <= args.min_replicas <= args.max_replicas:
            raise ValueError("need 2 <= min_replicas <= max_replicas")
        if args.image_tag in ("", "latest"):
            raise ValueError("the image tag must be pinned")
        unknown = set(args.provider_key_arns) - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown providers: {sorted(unknown)}")
        self._name, self._args = name, args
        self.ns = namespace(args.namespace, f"{name}-ns", self)
        self._child = pulumi.ResourceOptions(parent=self, depends_on=[self.ns])
        self.labels = {"app.kubernetes.io/name": "utp", "app.kubernetes.io/component": "api"}
        self.image = pulumi.Output.concat(args.image_repository, ":", args.image_tag)
        self._scope = Scope(
            name=name,
            args=args,
            parent=self,
            ns=self.ns,
            child=self._child,
            labels=self.labels,
            image=self.image,
        )
        self._create_guardrails()
        self._create_network_policies()
        secret = self._create_secrets()
        config = self._create_config()
        app_sa = self._create_service_account()
        waits: list[pulumi.Resource] = [config, secret, app_sa]
        if args.run_migrations:
            waits.append(self._create_migration_job([config, secret]))
        self.deployment = self._create_deployment(waits)
        self._create_exposure()
        if args.backup_bucket is not None and args.backup_role_arn is not None:
            self._create_backup_cronjob(args.backup_bucket, args.backup_role_arn, [config, secret])
            self._create_backup_metrics(args.backup_bucket)
            if args.backup_prune_role_arn is not None:
                create_prune_cronjob(self._scope, args.backup_bucket, args.backup_prune_role_arn)
        self.register_outputs({"namespace": args.namespace, "image": self.image})

    def env(self) -> list[dict[str, Any]]:
        return env_refs()

    def _create_guardrails(self) -> None:
        create_guardrails(self._scope)

    def _create_network_policies(self) -> None:
        create_network_policies(self._scope)

    def _create_secrets(self) -> k8s.apiextensions.CustomResource:
        return create_external_secret(self._scope)

    def _create_config(self) -> k8s.core.v1.ConfigMap:
        return create_config_map(self._scope)

    def _create_service_account(self) -> k8s.core.v1.ServiceAccount:
        return create_service_account(self._scope)

    def _create_migration_job(self, after: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        return create_migration_job(self._scope, after)

    def _create_deployment(self, after: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        return create_deployment(self._scope, after)

    def _create_exposure(self) -> None:
        create_exposure(self._scope, self.deployment)

    def _create_backup_cronjob(
        self,
        bucket: pulumi.Input[str],
        role_arn: pulumi.Input[str],
        after: list[pulumi.Resource],
    ) -> None:
        create_backup_cronjob(self._scope, bucket, role_arn, after)

    def _create_backup_metrics(self, bucket: pulumi.Input[str]) -> None:
        # The exporter's NetworkPolicies select on the labels its Deployment was given.
        labels = create_backup_metrics(self._scope, bucket)
        allow_backup_metrics_traffic(self._scope, labels)
