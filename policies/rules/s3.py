"""S3 buckets, checked as a stack: their settings live in separate resources."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from policies.helpers import (
    ADVISORY,
    UNKNOWN,
    Res,
    as_list,
    as_map,
    as_str,
    get,
    is_set,
    is_true,
    of_type,
    refers_to,
    stack_rule,
    types,
)

BUCKET = types("aws:s3/bucket:Bucket", v2=True)
PUBLIC_ACCESS_BLOCK = types("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
SSE = types(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    v2=True,
)
VERSIONING = types("aws:s3/bucketVersioning:BucketVersioning", v2=True)
POLICY = types("aws:s3/bucketPolicy:BucketPolicy")
LIFECYCLE = types("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", v2=True)
LOGGING = types("aws:s3/bucketLogging:BucketLogging", v2=True)
REPLICATION = types("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
OWNERSHIP = types("aws:s3/bucketOwnershipControls:BucketOwnershipControls")

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)

StackFinding = Iterator[tuple[str, str | None]]


def _settings(resources: list[Res], wanted: frozenset[str], bucket: Res) -> list[Res]:
    return [r for r in of_type(resources, wanted) if refers_to(r, "bucket", bucket)]


def log_targets(resources: list[Res]) -> list[Res]:
    """Buckets that receive other buckets' access logs."""
    logging = of_type(resources, LOGGING)
    return [
        b
        for b in of_type(resources, BUCKET)
        if any(refers_to(entry, "targetBucket", b) for entry in logging)
    ]


def replica_destinations(resources: list[Res]) -> list[Res]:
    """Buckets that other buckets replicate into."""
    out = []
    for bucket in of_type(resources, BUCKET):
        for config in of_type(resources, REPLICATION):
            for rule in as_list(config.get("rules")):
                probe = Res(
                    type="",
                    name="",
                    urn="",
                    props={"bucket": get(rule, "destination", "bucket")},
                )
                if refers_to(probe, "bucket", bucket):
                    out.append(bucket)
    return out


def _per_bucket(
    check: Callable[[Res, list[Res]], Iterator[str]],
    *,
    skip: Callable[[list[Res]], list[Res]] | None = None,
) -> Callable[[list[Res], Mapping[str, Any]], StackFinding]:
    def run(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
        skipped = {b.urn for b in skip(resources)} if skip else set()
        for bucket in of_type(resources, BUCKET):
            if bucket.urn in skipped:
                continue
            for message in check(bucket, resources):
                yield f"S3 bucket '{bucket.name}': {message}", bucket.urn

    return run


def _public_access_block(bucket: Res, resources: list[Res]) -> Iterator[str]:
    blocks = _settings(resources, PUBLIC_ACCESS_BLOCK, bucket)
    if not blocks:
        yield "has no BucketPublicAccessBlock."
        return
    if not any(all(is_true(b.get(flag)) for flag in PUBLIC_ACCESS_FLAGS) for b in blocks):
        off = [f for f in PUBLIC_ACCESS_FLAGS if not is_true(blocks[0].get(f))]
        yield f"public access block flags not set: {', '.join(off)}."


def _sse_rules_ok(rules: list[Any]) -> bool:
    for rule in rules:
        default = get(rule, "applyServerSideEncryptionByDefault")
        if (
            as_str(get(default, "sseAlgorithm")).startswith("aws:kms")
            and is_set(get(default, "kmsMasterKeyId"))
            and is_true(get(rule, "bucketKeyEnabled"))
        ):
            return True
    return False


def _sse_s3_rules_ok(rules: list[Any]) -> bool:
    return any(
        as_str(get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")) == "AES256"
        for rule in rules
    )


def _sse_kms(bucket: Res, resources: list[Res]) -> Iterator[str]:
    configs = _settings(resources, SSE, bucket)
    inline = get(bucket.props, "serverSideEncryptionConfiguration", "rule")
    rule_sets = [as_list(c.get("rules")) for c in configs]
    if inline is not None:
        rule_sets.append([inline])
    if any(_sse_rules_ok(rules) for rules in rule_sets):
        return
    if not rule_sets:
        yield "has no server-side encryption configuration."
        return
    # S3 cannot deliver server access logs into an SSE-KMS bucket: SSE-S3 is the only choice.
    is_log_target = any(t.urn == bucket.urn for t in log_targets(resources))
    if is_log_target and any(_sse_s3_rules_ok(rules) for rules in rule_sets):
        return
    yield "is not encrypted with SSE-KMS (CMK) and an S3 bucket key."


def _versioning(bucket: Res, resources: list[Res]) -> Iterator[str]:
    configs = _settings(resources, VERSIONING, bucket)
    if any(
        get(c.props, "versioningConfiguration", "status") in ("Enabled", UNKNOWN) for c in configs
    ):
        return
    if is_true(get(bucket.props, "versioning", "enabled")):
        return
    yield "versioning is not enabled."


def _denies_insecure_transport(document: Any) -> bool:
    if document is UNKNOWN:
        return True
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    for statement in as_list(get(document, "Statement")):
        if get(statement, "Effect") != "Deny":
            continue
        condition = as_map(get(statement, "Condition"))
        for operator in ("Bool", "bool"):
            value = get(condition, operator, "aws:SecureTransport")
            values = [str(v).lower() for v in as_list(value)]
            if "false" in values:
                return True
    return False


def _tls_only(bucket: Res, resources: list[Res]) -> Iterator[str]:
    policies = _settings(resources, POLICY, bucket)
    if not any(_denies_insecure_transport(p.get("policy")) for p in policies):
        yield "its bucket policy does not deny requests without TLS (aws:SecureTransport)."


def _lifecycle(bucket: Res, resources: list[Res]) -> Iterator[str]:
    rules = [
        rule
        for config in _settings(resources, LIFECYCLE, bucket)
        for rule in as_list(config.get("rules"))
        if get(rule, "status") in ("Enabled", None, UNKNOWN)
    ]
    if not rules:
        yield "has no lifecycle configuration."
        return
    if not any(
        is_set(get(r, "abortIncompleteMultipartUpload", "daysAfterInitiation")) for r in rules
    ):
        yield "incomplete multipart uploads are never aborted."
    if not any(is_set(get(r, "noncurrentVersionExpiration")) for r in rules):
        yield "noncurrent versions never expire."
    if not any(as_list(get(r, "transitions")) or is_set(get(r, "expiration")) for r in rules):
        yield "objects are never tiered to cheaper storage classes nor expired."


def _access_logging(bucket: Res, resources: list[Res]) -> Iterator[str]:
    if _settings(resources, LOGGING, bucket) or is_set(get(bucket.props, "loggings")):
        return
    yield "server access logging is off."


def _replication(bucket: Res, resources: list[Res]) -> Iterator[str]:
    configs = _settings(resources, REPLICATION, bucket)
    if not configs:
        yield "is not replicated to another region."
        return
    buckets = of_type(resources, BUCKET)
    for config in configs:
        for rule in as_list(config.get("rules")):
            if get(rule, "status") != "Enabled":
                continue
            destination = get(rule, "destination")
            probe = Res(type="", name="", urn="", props={"bucket": get(destination, "bucket")})
            targets = [b for b in buckets if refers_to(probe, "bucket", b)]
            if targets and all(t.region == bucket.region for t in targets):
                yield "replicates only within its own region."
                return
            if not is_set(get(destination, "encryptionConfiguration", "replicaKmsKeyId")):
                yield "replicas are not encrypted with a destination-region KMS key."
                return
            status = get(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status")
            if status not in ("Enabled", UNKNOWN):
                yield "SSE-KMS encrypted objects are not selected for replication."
                return
            return
    yield "has no enabled replication rule."


def _ownership(bucket: Res, resources: list[Res]) -> Iterator[str]:
    controls = _settings(resources, OWNERSHIP, bucket)
    if not any(
        get(c.props, "rule", "objectOwnership") in ("BucketOwnerEnforced", UNKNOWN)
        for c in controls
    ):
        yield "ACLs are still enabled (object ownership is not BucketOwnerEnforced)."


def _not_replicated_targets(resources: list[Res]) -> list[Res]:
    return replica_destinations(resources) + log_targets(resources)


RULES = [
    stack_rule(
        name="aws-s3-public-access-block",
        description="S3 buckets block public access with all four flags.",
        area="s3",
        check=_per_bucket(_public_access_block),
        fix="add an aws.s3.BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
        "ignorePublicAcls and restrictPublicBuckets all True.",
    ),
    stack_rule(
        name="aws-s3-sse-kms",
        description="S3 buckets default to SSE-KMS with a customer-managed key and a bucket key.",
        area="s3",
        check=_per_bucket(_sse_kms),
        fix="add an aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm='aws:kms', "
        "kmsMasterKeyId=<CMK> and bucketKeyEnabled=True.",
    ),
    stack_rule(
        name="aws-s3-versioning",
        description="S3 buckets have versioning enabled.",
        area="s3",
        check=_per_bucket(_versioning),
        fix="add an aws.s3.BucketVersioning with versioningConfiguration.status='Enabled'.",
    ),
    stack_rule(
        name="aws-s3-tls-only",
        description="S3 bucket policies deny every request not made over TLS.",
        area="s3",
        check=_per_bucket(_tls_only),
        fix="attach an aws.s3.BucketPolicy with a Deny on s3:* for the bucket and its objects "
        "when aws:SecureTransport is false.",
    ),
    stack_rule(
        name="aws-s3-lifecycle",
        description="S3 buckets abort stale uploads, expire noncurrent versions and tier data.",
        area="s3",
        check=_per_bucket(_lifecycle),
        fix="add an aws.s3.BucketLifecycleConfiguration with abortIncompleteMultipartUpload, "
        "noncurrentVersionExpiration and transitions (IA -> Glacier -> Deep Archive).",
        level=ADVISORY,
    ),
    stack_rule(
        name="aws-s3-access-logging",
        description="S3 buckets log access to a separate log bucket.",
        area="s3",
        check=_per_bucket(_access_logging, skip=log_targets),
        fix="add an aws.s3.BucketLogging pointing at the region's access-log bucket.",
    ),
    stack_rule(
        name="aws-s3-cross-region-replication",
        description="S3 buckets replicate to another region with a destination-region KMS key.",
        area="s3",
        check=_per_bucket(_replication, skip=_not_replicated_targets),
        fix="add an aws.s3.BucketReplicationConfig to a bucket in the DR region with "
        "encryptionConfiguration.replicaKmsKeyId and sseKmsEncryptedObjects selected.",
        production_only=True,
    ),
    stack_rule(
        name="aws-s3-bucket-owner-enforced",
        description="S3 buckets disable ACLs (object ownership BucketOwnerEnforced).",
        area="s3",
        check=_per_bucket(_ownership),
        fix="add an aws.s3.BucketOwnershipControls with "
        "rule.objectOwnership='BucketOwnerEnforced'.",
    ),
]
