"""Cache and Backups components: encryption, failover, bucket hardening, replication."""

from __future__ import annotations

import json

import pytest

from infra.backups import BackupIdentity, Backups, BackupsArgs, ReplicationTarget
from infra.cache import Cache, CacheArgs
from tests.infra.support import aws_opts, random_provider


def _cache(nodes: int = 2) -> None:
    Cache(
        "cache",
        CacheArgs(
            vpc_id="vpc-1",
            subnet_ids=["s1", "s2"],
            client_security_group_ids=["sg-cluster"],
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/cache",
            secrets_key_arn="arn:aws:kms:us-east-1:123456789012:key/secrets",
            logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
            log_retention_days=30,
            node_type="cache.t4g.small",
            nodes=nodes,
        ),
        opts=aws_opts().merge(random_provider()),
    )


def test_cache_encrypted_with_auth_and_failover(build):
    g = build(_cache)
    (rg,) = g.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    i = rg.inputs
    assert i["engine"] == "redis" and i["engineVersion"].startswith("7")
    assert i["atRestEncryptionEnabled"] is True and i["kmsKeyId"].endswith("key/cache")
    assert i["transitEncryptionEnabled"] is True and i["transitEncryptionMode"] == "required"
    assert i["authToken"] == "[secret]"
    assert i["automaticFailoverEnabled"] is True and i["multiAzEnabled"] is True
    assert i["numCacheClusters"] >= 2 and i["snapshotRetentionLimit"] > 0
    assert {c["logType"] for c in i["logDeliveryConfigurations"]} == {"slow-log", "engine-log"}
    (secret,) = g.of_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["kmsKeyId"].endswith("key/secrets")
    (version,) = g.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == "[secret]"
    (sg,) = g.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert sg.inputs["ingress"][0]["securityGroups"] == ["sg-cluster"]


def test_cache_refuses_single_node(build):
    with pytest.raises(ValueError, match="at least 2"):
        build(lambda: _cache(nodes=1))


def _backups() -> None:
    Backups(
        "b",
        BackupsArgs(
            bucket_name="utp-backups",
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/s3",
            replicate_to=ReplicationTarget(
                bucket_arn="arn:aws:s3:::utp-replica",
                kms_key_arn="arn:aws:kms:us-west-2:123456789012:key/s3",
            ),
            writer=BackupIdentity(
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
                oidc_issuer="oidc.eks.us-east-1.amazonaws.com/id/X",
                namespace="utp",
                service_account="utp-backup",
            ),
        ),
        opts=aws_opts(),
    )


def _bucket_id(g, suffix: str) -> str:
    return next(b for b in g.of_type("aws:s3/bucket:Bucket") if b.name.endswith(suffix)).outputs[
        "id"
    ]


def test_backup_bucket_hardening(build):
    g = build(_backups)
    bucket = _bucket_id(g, "-bucket")
    pab = next(
        p
        for p in g.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if p.inputs["bucket"] == bucket
    )
    assert all(
        pab.inputs[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = next(
        s
        for s in g.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        if s.inputs["bucket"] == bucket
    )
    rule = sse.inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["bucketKeyEnabled"] is True
    owner = next(
        o
        for o in g.of_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        if o.inputs["bucket"] == bucket
    )
    assert owner.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    versioning = next(
        v
        for v in g.of_type("aws:s3/bucketVersioning:BucketVersioning")
        if v.inputs["bucket"] == bucket
    )
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    policy = next(
        p for p in g.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == bucket
    )
    statements = json.loads(policy.inputs["policy"])["Statement"]
    tls = next(s for s in statements if s["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    writers = next(s for s in statements if s["Sid"] == "OnlyTheBackupJobWrites")
    (role,) = [r for r in g.of_type("aws:iam/role:Role") if r.name.endswith("writer-role")]
    assert writers["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [role.outputs["arn"]]
    deleters = next(s for s in statements if s["Sid"] == "OnlyThePruneJobDeletes")
    (pruner,) = [r for r in g.of_type("aws:iam/role:Role") if r.name.endswith("prune-role")]
    assert deleters["Action"] == "s3:DeleteObject"
    assert deleters["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [pruner.outputs["arn"]]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert "system:serviceaccount:utp:utp-backup" in trust["Condition"]["StringEquals"].values()
    logging = next(
        lg
        for lg in g.of_type("aws:s3/bucketLogging:BucketLogging")
        if lg.inputs["bucket"] == bucket
    )
    assert logging.inputs["targetBucket"] == _bucket_id(g, "access-logs")


def test_prune_role_may_delete_current_versions_and_nothing_more(build):
    g = build(_backups)
    (role,) = [r for r in g.of_type("aws:iam/role:Role") if r.name.endswith("prune-role")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert (
        "system:serviceaccount:utp:utp-backup-prune" in trust["Condition"]["StringEquals"].values()
    )
    (policy,) = [
        p for p in g.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("prune-policy")
    ]
    actions = {
        a
        for st in json.loads(policy.inputs["policy"])["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert actions == {"s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "kms:Decrypt"}
    (writer,) = [
        p for p in g.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("writer-policy")
    ]
    assert "Delete" not in writer.inputs["policy"]


def test_lifecycle_expires_what_retention_no_longer_keeps(build):
    from infra.service.args import TranslatorServiceArgs

    g = build(_backups)
    bucket = _bucket_id(g, "-bucket")
    (lc,) = [
        x
        for x in g.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if x.inputs["bucket"] == bucket
    ]
    days = lc.inputs["rules"][0]["expiration"]["days"]
    # The prune job's oldest keeper is the newest backup of the month keep_monthly - 1
    # months back: at most 31 * keep_monthly days old. Expiry comes after it, not much later.
    keep_monthly = TranslatorServiceArgs.__dataclass_fields__["keep_monthly"].default
    assert isinstance(keep_monthly, int)
    assert 31 * keep_monthly < days <= 31 * (keep_monthly + 2)


def test_backup_lifecycle_tiers(build):
    g = build(_backups)
    bucket = _bucket_id(g, "-bucket")
    lc = next(
        x
        for x in g.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if x.inputs["bucket"] == bucket
    )
    rule = lc.inputs["rules"][0]
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [
        (30, "STANDARD_IA"),
        (90, "GLACIER"),
        (365, "DEEP_ARCHIVE"),
    ]
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] > 0
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] > 0


def test_backup_replication_with_rtc_and_replica_key(build):
    g = build(_backups)
    (rep,) = g.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    dest = rep.inputs["rules"][0]["destination"]
    assert dest["bucket"] == "arn:aws:s3:::utp-replica"
    assert dest["encryptionConfiguration"]["replicaKmsKeyId"].startswith("arn:aws:kms:us-west-2")
    assert dest["replicationTime"]["status"] == "Enabled" and dest["metrics"]["status"] == "Enabled"
