"""The audit component, the log archive's bucket options, the audit KMS key and the
per-component cost allocation tag, as recorded under mocks."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from infra._tags import COMPONENT_TAG, component_tag
from infra.audit import CONFIG_RULES, GUARDDUTY_FEATURES, Audit, AuditArgs
from infra.backups import Backups, BackupsArgs
from infra.kms import Kms, KmsArgs
from tests.infra.support import aws_opts

BUCKET_ARN = "arn:aws:s3:::utp-stg-use1-audit-123456789012"
KEY = "arn:aws:kms:us-east-1:123456789012:key/audit"


def _audit(primary: bool = True, role: str | None = None) -> None:
    Audit(
        "a",
        AuditArgs(
            region="us-east-1",
            archive_bucket="utp-stg-use1-audit-123456789012",
            archive_bucket_arn=BUCKET_ARN,
            archive_key_arn=KEY,
            primary=primary,
            config_role_arn=role,
        ),
        opts=aws_opts(),
    )


def test_primary_region_audits_the_account(build):
    g = build(_audit)
    (trail,) = g.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] and trail.inputs["enableLogFileValidation"]
    assert trail.inputs["kmsKeyId"] == KEY
    (detector,) = g.of_type("aws:guardduty/detector:Detector")
    assert detector.inputs["enable"] is True
    features = {
        f.inputs["name"] for f in g.of_type("aws:guardduty/detectorFeature:DetectorFeature")
    }
    assert features == set(GUARDDUTY_FEATURES)
    (recorder,) = g.of_type("aws:cfg/recorder:Recorder")
    assert recorder.inputs["recordingGroup"]["includeGlobalResourceTypes"] is True
    (role,) = g.of_type("aws:iam/role:Role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "config.amazonaws.com"
    }
    assert recorder.inputs["roleArn"] == role.outputs["arn"]
    (delivery,) = g.of_type("aws:iam/rolePolicy:RolePolicy")
    statements = json.loads(delivery.inputs["policy"])["Statement"]
    assert statements[0]["Resource"] == f"{BUCKET_ARN}/AWSLogs/*"
    (channel,) = g.of_type("aws:cfg/deliveryChannel:DeliveryChannel")
    assert channel.inputs["s3KmsKeyArn"] == KEY
    rules = {r.inputs["source"]["sourceIdentifier"] for r in g.of_type("aws:cfg/rule:Rule")}
    assert rules == set(CONFIG_RULES.values())


def test_other_regions_reuse_the_role_and_record_no_global_resources(build):
    role = "arn:aws:iam::123456789012:role/config"
    g = build(lambda: _audit(primary=False, role=role))
    assert not g.of_type("aws:cloudtrail/trail:Trail")
    assert not g.of_type("aws:iam/role:Role")
    (recorder,) = g.of_type("aws:cfg/recorder:Recorder")
    assert recorder.inputs["roleArn"] == role
    assert recorder.inputs["recordingGroup"]["includeGlobalResourceTypes"] is False


@pytest.mark.parametrize(("primary", "role"), [(True, "arn:role"), (False, None)])
def test_config_role_is_created_exactly_once(build, primary, role):
    with pytest.raises(ValueError, match="primary region creates Config's role"):
        build(lambda: _audit(primary=primary, role=role))


def _archive(**extra: object) -> None:
    Backups(
        "b",
        BackupsArgs(bucket_name="audit", kms_key_arn=KEY, **extra),  # type: ignore[arg-type]
        opts=aws_opts(),
    )


def test_archive_bucket_denies_deletes_and_admits_log_delivery(build):
    g = build(
        lambda: _archive(
            deny_deletes=True,
            log_delivery_services=("cloudtrail.amazonaws.com",),
            account_id="123456789012",
            transitions=((30, "STANDARD_IA"),),
            expiry_days=365,
        )
    )
    policies = {p.name: p for p in g.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    sids = {
        s["Sid"]: s for s in json.loads(policies["b-bucket-policy"].inputs["policy"])["Statement"]
    }
    assert sids["NobodyDeletes"]["Effect"] == "Deny"
    assert sids["LogDeliveryWritesItsPrefix"]["Resource"].endswith("/AWSLogs/123456789012/*")
    # The access-log bucket is not an archive: S3 itself writes there.
    access = json.loads(policies["b-access-logs-policy"].inputs["policy"])["Statement"]
    assert "NobodyDeletes" not in {s["Sid"] for s in access}


def test_version_archive_lets_writers_delete_but_keeps_every_version_for_a_year(build):
    g = build(
        lambda: _archive(
            deny_version_deletes=True,
            noncurrent_expiry_days=335,
            transitions=((30, "STANDARD_IA"),),
            expiry_days=365,
        )
    )
    policies = {p.name: p for p in g.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    statements = json.loads(policies["b-bucket-policy"].inputs["policy"])["Statement"]
    sids = {s["Sid"]: s for s in statements}
    # A delete only leaves a marker; the version itself goes with the lifecycle alone.
    assert sids["NobodyDeletesVersions"]["Action"] == "s3:DeleteObjectVersion"
    assert sids["NobodyDeletesVersions"]["Principal"] == "*"
    assert "NobodyDeletes" not in sids
    lifecycles = {
        lc.name: lc
        for lc in g.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    }
    (rule,) = lifecycles["b-lifecycle"].inputs["rules"]
    assert rule["expiration"] == {"days": 365}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 335}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"expiry_days": 90}, "transition must come before the expiry"),
        ({"log_delivery_services": ("cloudtrail.amazonaws.com",)}, "needs the account id"),
    ],
)
def test_archive_options_that_cannot_work_are_refused(build, extra, message):
    with pytest.raises(ValueError, match=message):
        build(lambda: _archive(**extra))


def test_audit_key_lets_cloudtrail_encrypt_only_this_accounts_trails(build):
    g = build(
        lambda: Kms(
            "k", KmsArgs(region="us-east-1", account_id="123456789012", purposes=("audit",))
        )
    )
    (key,) = g.of_type("aws:kms/key:Key")
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    encrypt = statements["CloudTrailEncryptsLogFiles"]
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"
    }


def test_component_tag_reaches_taggable_children_and_the_inner_component_wins(build):
    def program() -> None:
        outer = pulumi.ResourceOptions.merge(
            aws_opts(), pulumi.ResourceOptions(transformations=[component_tag("outer")])
        )
        aws.sns.Topic("plain", opts=outer)
        aws.kms.Key("tagged", tags={"Purpose": "x"}, opts=outer)
        aws.sqs.Queue(
            "from-output", tags=pulumi.Output.from_input({"Team": "platform"}), opts=outer
        )
        parent = pulumi.ComponentResource("test:index:Outer", "outer", None, opts=outer)
        aws.sns.Topic(
            "nested",
            opts=pulumi.ResourceOptions(parent=parent, transformations=[component_tag("inner")]),
        )
        # Not a string map: left alone.
        aws.autoscaling.Group(
            "asg",
            max_size=1,
            min_size=0,
            tags=[{"key": "a", "value": "b", "propagate_at_launch": True}],
            opts=outer,
        )
        aws.sns.TopicPolicy("untaggable", arn="arn:aws:sns:us-east-1:1:t", policy="{}", opts=outer)

    g = build(program)
    tags = {r.name: r.inputs.get("tags") for r in g.graph}
    assert tags["plain"] == {COMPONENT_TAG: "outer"}
    assert tags["tagged"] == {COMPONENT_TAG: "outer", "Purpose": "x"}
    assert tags["from-output"] == {COMPONENT_TAG: "outer", "Team": "platform"}
    assert tags["nested"] == {COMPONENT_TAG: "inner"}
    assert tags["asg"] == [{"key": "a", "value": "b", "propagateAtLaunch": True}]
    assert tags["untaggable"] is None
