"""TranslatorService: the env mapping matches the service's settings; pod hardening; policies."""

from __future__ import annotations

from infra.service import ENV_VARS, TranslatorService, TranslatorServiceArgs
from service.settings import env_var_names
from tests.infra.support import aws_opts


def test_env_mapping_names_are_service_settings():
    assert set(ENV_VARS) <= env_var_names()
    for key in (
        "UTP_DATABASE_URL_FILE",
        "UTP_REDIS_URL",
        "UTP_SECRET_KEY",
        "UTP_ENCRYPTION_KEY",
        "UTP_ENVIRONMENT",
    ):
        assert key in ENV_VARS
    for provider in ("DEEPL", "GOOGLE", "OPENAI", "ANTHROPIC"):
        assert f"UTP_{provider}_API_KEY" in ENV_VARS


def test_what_the_deployment_sets_satisfies_production_settings(tmp_path):
    """The required variables are exactly what a production start needs: it must not refuse."""
    import base64

    from service.settings import Settings

    url = tmp_path / "url"
    url.write_text("postgresql+asyncpg://utp:pw@db.internal:5432/utp?ssl=verify-full")
    plausible = {
        "UTP_ENVIRONMENT": "production",
        "UTP_DATABASE_URL_FILE": str(url),
        "UTP_REDIS_URL": "rediss://:token@redis.internal:6379/0",
        "UTP_SECRET_KEY": "s" * 64,
        "UTP_ENCRYPTION_KEY": base64.b64encode(b"k" * 32).decode(),
    }
    required = {name for name, source in ENV_VARS.items() if not source.optional}
    env = {name: plausible[name] for name in required if name in plausible}
    settings = Settings.from_env(env)
    assert settings.is_production and settings.database_credentials_file == url


def _service(backups: bool = True, migrations: bool = True, min_replicas: int = 2) -> None:
    TranslatorService(
        "svc",
        TranslatorServiceArgs(
            region="us-east-1",
            image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/utp",
            image_tag="1.2.3",
            hostname="api.example.com",
            regional_hostname="use1.api.example.com",
            cluster_issuer="letsencrypt",
            vpc_cidr="10.10.0.0/16",
            oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
            oidc_issuer="oidc.eks.us-east-1.amazonaws.com/id/X",
            database_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf",
            database_secret_region="us-east-1",
            database_host="db.example.internal",
            database_name="utp",
            redis_host="redis.example.internal",
            redis_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:redis-AbCdEf",
            secret_key_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf",
            encryption_key_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:enc-AbCdEf",
            provider_key_arns={
                "deepl": "arn:aws:secretsmanager:us-east-1:123456789012:secret:d-AbCdEf"
            },
            run_migrations=migrations,
            min_replicas=min_replicas,
            backup_bucket="utp-backups" if backups else None,
            backup_role_arn="arn:aws:iam::123456789012:role/backup" if backups else None,
            backup_prune_role_arn="arn:aws:iam::123456789012:role/prune" if backups else None,
        ),
        opts=aws_opts(),
    )


def _named(g, typ, name):
    return [r for r in g.of_type(typ) if r.inputs["metadata"]["name"] == name]


def test_deployment_env_and_hardening(build):
    g = build(_service)
    (dep,) = _named(g, "kubernetes:apps/v1:Deployment", "utp")
    pod = dep.inputs["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert {e["name"] for e in c["env"]} == set(ENV_VARS) | {"UTP_RELEASE", "PGSSLROOTCERT"}
    # The release is the image tag, set in the pod spec itself (not the shared ConfigMap).
    assert {"name": "UTP_RELEASE", "value": "1.2.3"} in c["env"]
    (config,) = _named(g, "kubernetes:core/v1:ConfigMap", "utp-config")
    assert config.inputs["data"]["UTP_ENVIRONMENT"] == "production"
    assert config.inputs["data"]["UTP_PORT"] == "8000"
    sc = c["securityContext"]
    assert (
        sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"] and sc["readOnlyRootFilesystem"]
    )
    assert (
        sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    )
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["image"].endswith(":1.2.3")
    assert dep.inputs["metadata"]["namespace"] == "utp"
    (es,) = g.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    template = es.inputs["spec"]["target"]["template"]["data"]
    assert template["UTP_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "db.example.internal:5432/utp" in template["UTP_DATABASE_URL"]
    assert template["UTP_REDIS_URL"].startswith("rediss://")
    assert "UTP_DEEPL_API_KEY" in template and "UTP_OPENAI_API_KEY" not in template


def test_database_url_reaches_the_pods_as_a_file_that_follows_the_secret(build):
    """A rotated password must reach running pods: the URL is a file of the `utp-env` Secret
    (the kubelet rewrites it; never a subPath, whose file is not rewritten), never an env var,
    and External Secrets re-reads Secrets Manager every minute."""
    g = build(_service)
    (es,) = g.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    assert es.inputs["spec"]["refreshInterval"] == "1m"
    assert "UTP_DATABASE_URL" in es.inputs["spec"]["target"]["template"]["data"]
    volume = {
        "name": "database-url",
        "secret": {
            "secretName": "utp-env",
            "items": [{"key": "UTP_DATABASE_URL", "path": "url"}],
            "defaultMode": 0o440,
        },
    }
    mount = {"name": "database-url", "mountPath": "/etc/utp/database", "readOnly": True}
    pods = {
        d.inputs["metadata"]["name"]: d.inputs["spec"]["template"]["spec"]
        for d in g.of_type("kubernetes:apps/v1:Deployment")
    }
    pods |= {
        j.inputs["metadata"]["name"]: j.inputs["spec"]["template"]["spec"]
        for j in g.of_type("kubernetes:batch/v1:Job")
    }
    pods |= {
        c.inputs["metadata"]["name"]: c.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        for c in g.of_type("kubernetes:batch/v1:CronJob")
    }
    with_database = {"utp", "utp-migrate-1-2-3", "utp-backup"}
    assert with_database <= set(pods)
    for name, pod in pods.items():
        (c, *_) = pod["containers"]
        env = {e["name"]: e for e in c.get("env", [])}
        assert "UTP_DATABASE_URL" not in env, name
        refs = [
            e["valueFrom"].get("secretKeyRef", {}).get("key")
            for e in env.values()
            if "valueFrom" in e
        ]
        assert "UTP_DATABASE_URL" not in refs, name
        if name in with_database:
            assert volume in pod["volumes"], name
            assert mount in c["volumeMounts"], name
            assert env["UTP_DATABASE_URL_FILE"]["value"] == "/etc/utp/database/url", name
        else:  # the prune job and the backup exporter never see the database password
            assert volume not in pod["volumes"], name
            assert "UTP_DATABASE_URL_FILE" not in env, name
        assert not any("subPath" in m for m in c.get("volumeMounts", [])), name


def test_database_url_verifies_the_server_with_the_mounted_rds_bundle(build):
    g = build(_service)
    (es,) = g.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    url = es.inputs["spec"]["target"]["template"]["data"]["UTP_DATABASE_URL"]
    assert url.endswith("/utp?ssl=verify-full")
    maps = {m.inputs["metadata"]["name"]: m for m in g.of_type("kubernetes:core/v1:ConfigMap")}
    bundle = maps["utp-rds-ca"].inputs["data"]["global-bundle.pem"]
    assert bundle.count("BEGIN CERTIFICATE") > 100
    pods = [
        d.inputs["spec"]["template"]["spec"] for d in g.of_type("kubernetes:apps/v1:Deployment")
    ]
    pods += [j.inputs["spec"]["template"]["spec"] for j in g.of_type("kubernetes:batch/v1:Job")]
    assert pods
    for pod in pods:
        assert {"name": "rds-ca", "configMap": {"name": "utp-rds-ca"}} in pod["volumes"]
        for c in pod["containers"]:
            # Every container that may talk to the database finds the bundle where the
            # variable says.
            if any(e["name"] == "PGSSLROOTCERT" for e in c.get("env", [])):
                mount = {"name": "rds-ca", "mountPath": "/etc/utp/rds-ca", "readOnly": True}
                assert mount in c["volumeMounts"]
    api = next(
        d
        for d in g.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "utp"
    )
    (container,) = api.inputs["spec"]["template"]["spec"]["containers"]
    assert {"name": "PGSSLROOTCERT", "value": "/etc/utp/rds-ca/global-bundle.pem"} in container[
        "env"
    ]


def test_autoscaling_disruption_and_isolation(build):
    g = build(_service)
    (hpa,) = g.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (2, 10)
    assert {m["resource"]["name"] for m in hpa.inputs["spec"]["metrics"]} == {"cpu", "memory"}
    (pdb,) = _named(g, "kubernetes:policy/v1:PodDisruptionBudget", "utp")
    assert pdb.inputs["spec"]["minAvailable"] == 1 and "maxUnavailable" not in pdb.inputs["spec"]


def test_three_replicas_keep_two_through_a_node_drain(build):
    g = build(lambda: _service(min_replicas=3))
    (hpa,) = g.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert hpa.inputs["spec"]["minReplicas"] == 3
    (pdb,) = _named(g, "kubernetes:policy/v1:PodDisruptionBudget", "utp")
    assert pdb.inputs["spec"]["minAvailable"] == 2
    policies = {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in g.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    ports = {p["port"] for p in policies["allow-egress-data"]["egress"][0]["ports"]}
    assert ports == {5432, 6379}
    assert policies["allow-egress-https"]["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 443}
    ]
    assert g.of_type("kubernetes:core/v1:ResourceQuota") and g.of_type(
        "kubernetes:core/v1:LimitRange"
    )
    (ns,) = g.of_type("kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_migration_job_before_rollout_and_backup_cronjob(build):
    g = build(_service)
    (job,) = g.of_type("kubernetes:batch/v1:Job")
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "utp",
        "db",
        "upgrade",
    ]
    # The Job migrates once per release; the replicas only serve.
    (config,) = _named(g, "kubernetes:core/v1:ConfigMap", "utp-config")
    assert config.inputs["data"]["UTP_MIGRATE_ON_START"] == "false"
    (deployment,) = _named(g, "kubernetes:apps/v1:Deployment", "utp")
    api = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    refs = {e["name"]: e.get("valueFrom", {}) for e in api["env"]}
    assert refs["UTP_MIGRATE_ON_START"] == {
        "configMapKeyRef": {"name": "utp-config", "key": "UTP_MIGRATE_ON_START"}
    }
    (cron,) = _named(g, "kubernetes:batch/v1:CronJob", "utp-backup")
    # Application data every 4 hours, as the deployment overview promises.
    assert cron.inputs["spec"]["schedule"] == "0 */4 * * *"
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "utp-backup"
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["UTP_BACKUP_BUCKET"] == "utp-backups"
    # The commands the cluster runs are ones the service's CLI accepts.
    job_command = job.inputs["spec"]["template"]["spec"]["containers"][0]["command"]
    for command in (container["command"], job_command):
        assert command[0] == "utp"
        _parse_utp(list(command[1:]))


def test_prune_cronjob_applies_retention_under_its_own_account(build):
    g = build(_service)
    (cron,) = _named(g, "kubernetes:batch/v1:CronJob", "utp-backup-prune")
    assert cron.inputs["spec"]["schedule"] == "30 3 * * *"
    assert cron.inputs["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "utp-backup-prune"
    (container,) = pod["containers"]
    assert container["command"] == [
        "utp", "backups", "prune", "--keep-daily", "30", "--keep-weekly", "12",
        "--keep-monthly", "12",
    ]  # fmt: skip
    _parse_utp(container["command"][1:])
    # The bucket and region only: no database, Redis or provider secrets in this pod.
    assert {e["name"] for e in container["env"]} == {
        "AWS_REGION", "UTP_BACKUP_BUCKET", "UTP_BACKUP_S3_REGION", "UTP_DATA_DIR"
    }  # fmt: skip
    (account,) = _named(g, "kubernetes:core/v1:ServiceAccount", "utp-backup-prune")
    annotations = account.inputs["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/prune"


def _parse_utp(args: list[str]) -> None:
    """Parse `utp ARGS` down to the leaf command the way click would run it (raises if bad)."""
    import click

    from service.cli import main

    command: click.Command = main
    ctx = command.make_context("utp", args)
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None and name is not None
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)


def test_dr_copy_has_no_migrations_or_backups(build):
    g = build(lambda: _service(backups=False, migrations=False))
    assert not g.of_type("kubernetes:batch/v1:Job")
    assert not g.of_type("kubernetes:batch/v1:CronJob")


def test_backup_metrics_are_scraped_from_the_bucket_listing(build):
    """Restricted Pod Security rules out node-exporter's textfile directory (a hostPath), so a
    small Deployment serves `utp health-check --format prometheus` for Prometheus."""
    import json
    import shlex

    from infra.service import _CHECK_LOOP

    g = build(_service)
    (dep,) = _named(g, "kubernetes:apps/v1:Deployment", "utp-backup-metrics")
    pod = dep.inputs["spec"]["template"]["spec"]
    assert dep.inputs["spec"]["replicas"] == 1
    assert pod["serviceAccountName"] == "utp-backup-metrics"
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"check", "serve"}
    for c in containers.values():
        assert c["livenessProbe"] and c["readinessProbe"]
        assert c["securityContext"]["readOnlyRootFilesystem"] and c["resources"]["limits"]
        assert c["image"].endswith(":1.2.3")
    check = containers["check"]
    env = {e["name"]: e for e in check["env"]}
    assert env["UTP_BACKUP_BUCKET"]["value"] == "utp-backups"
    assert env["UTP_HEALTH_CHECK_URL"]["value"] == "http://utp.utp.svc.cluster.local"
    assert not any("valueFrom" in e for e in check["env"])  # no service secrets in this pod
    # The command in the loop is one the service's CLI accepts.
    (line,) = [line for line in _CHECK_LOOP.splitlines() if "utp health-check" in line]
    words = shlex.split(line.split(">")[0])
    assert words[:3] == ["utp", "health-check", "--format"] and words[3] == "prometheus"
    _parse_utp(words[1:])

    (monitor,) = [
        m
        for m in g.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if m.inputs["metadata"]["name"] == "utp-backup-metrics"
    ]
    (endpoint,) = monitor.inputs["spec"]["endpoints"]
    (svc,) = _named(g, "kubernetes:core/v1:Service", "utp-backup-metrics")
    assert endpoint["port"] == svc.inputs["spec"]["ports"][0]["name"]
    serve = containers["serve"]
    assert endpoint["path"] == serve["readinessProbe"]["httpGet"]["path"] == "/metrics.txt"
    assert serve["ports"][0]["containerPort"] == svc.inputs["spec"]["ports"][0]["port"]
    assert monitor.inputs["spec"]["selector"]["matchLabels"] == svc.inputs["spec"]["selector"]

    (pdb,) = _named(g, "kubernetes:policy/v1:PodDisruptionBudget", "utp-backup-metrics")
    assert pdb.inputs["spec"]["maxUnavailable"] == 1  # a single replica stays evictable

    (policy,) = [
        p for p in g.of_type("aws:iam/rolePolicy:RolePolicy") if "backup-metrics" in p.name
    ]
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::utp-backups",
    }

    policies = {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in g.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    own = policies["allow-backup-metrics"]
    assert own["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9108}]
    assert own["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert own["egress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]
    api_in = policies["allow-ingress-health-check"]
    assert api_in["podSelector"] == own["egress"][0]["to"][0]["podSelector"]
    assert api_in["ingress"][0]["from"][0]["podSelector"] == own["podSelector"]


def test_health_check_output_carries_the_metric_the_backup_alert_reads():
    """BackupStale reads utp_backup_last_success_timestamp_seconds{type=~"database|full|"}:
    the health check's copy has no `type`, which that matcher accepts."""
    from datetime import UTC, datetime

    from prometheus_client.parser import text_string_to_metric_families

    from ops_common.healthcheck import Component, HealthReport, render_prometheus

    done = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    report = HealthReport(
        url="http://utp",
        checked_at=done,
        components=[Component("live", "ok")],
        duration_ms=1.0,
        backup_completed_at=done,
    )
    samples = {
        s.name: s
        for family in text_string_to_metric_families(render_prometheus(report))
        for s in family.samples
    }
    sample = samples["utp_backup_last_success_timestamp_seconds"]
    assert sample.labels == {} and sample.value == done.timestamp()
    assert "utp_health_status" in samples  # what the loop checks before publishing


def test_no_backup_metrics_without_backups(build):
    g = build(lambda: _service(backups=False, migrations=False))
    assert not _named(g, "kubernetes:apps/v1:Deployment", "utp-backup-metrics")
