"""The offline runner: stack-aware enforcement, pack config, reports, preview unknowns, V2 types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policies.enforcement import environment_for_stack, pack_config
from policies.helpers import Res, get, types, with_v2
from policies.offline import check
from policies.rules import ALL
from tests.policies.factories import (
    AWS_EAST,
    STACK,
    both,
    good_stack,
    move,
    retype,
    set_,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "policies" / "config"
NO_DELETION_PROTECTION = set_("db-primary", "deletionProtection", False)


def test_production_only_rule_is_advisory_on_staging() -> None:
    report = check(NO_DELETION_PROTECTION(good_stack()), "staging")
    assert report.environment == "staging"
    assert [v.level for v in report.violations] == ["advisory"]
    assert report.exit_code == 0


def test_production_only_rule_is_mandatory_on_production() -> None:
    report = check(NO_DELETION_PROTECTION(good_stack()), "production")
    assert [v.level for v in report.violations] == ["mandatory"]
    assert report.exit_code == 1


def test_security_rules_stay_mandatory_on_staging() -> None:
    report = check(set_("db-replica", "storageEncrypted", False)(good_stack()), "staging")
    assert [(v.rule, v.level) for v in report.violations] == [
        ("aws-rds-storage-encrypted", "mandatory")
    ]
    assert report.exit_code == 1


@pytest.mark.parametrize(
    ("stack", "environment"),
    [
        ("staging", "staging"),
        ("acme/utp/staging", "staging"),
        ("production", "production"),
        ("", "production"),
        ("perf-test", "production"),
    ],
)
def test_environment_defaults_to_the_strict_one(stack: str, environment: str) -> None:
    assert environment_for_stack(stack) == environment


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_policy_pack_config_files_match_the_code(environment: str) -> None:
    shipped = json.loads((CONFIG_DIR / f"{environment}.json").read_text())
    assert shipped == pack_config(ALL, environment)  # type: ignore[arg-type]


def test_explicit_config_overrides_levels_and_properties() -> None:
    resources = both(
        set_("key-use1", "enableKeyRotation", False),
        set_("eks", "version", "1.35"),
    )(good_stack())
    report = check(
        resources,
        STACK,
        config={
            "aws-kms-key-rotation": "disabled",
            "aws-eks-supported-version": {"enforcementLevel": "advisory", "minimumVersion": "1.36"},
            "aws-rds-deletion-protection": {"enforcementLevel": "mandatory"},
        },
    )
    assert [(v.rule, v.level) for v in report.violations] == [
        ("aws-eks-supported-version", "advisory")
    ]
    assert "older than the configured minimum version 1.36" in report.violations[0].message


def test_text_report_groups_by_rule_with_urns() -> None:
    resources = both(
        set_("db-primary", "storageEncrypted", False),
        set_("db-replica", "storageEncrypted", False),
        set_("flow-logs", "retentionInDays", 0),
    )(good_stack())
    text = check(resources, STACK).to_text()

    assert f"{len(ALL)} rules loaded" in text
    assert "MANDATORY violations: 2" in text
    assert "aws-rds-storage-encrypted (2)" in text
    assert "urn:pulumi:production::utp::aws:rds/instance:Instance::db-replica" in text
    assert "ADVISORY violations: 1" in text
    assert "aws-logs-retention (1)" in text
    assert text.rstrip().endswith("across 1 rule(s).")
    assert "FAILED: 2 mandatory violation(s)" in text


def test_json_report() -> None:
    report = check(set_("flow-logs", "retentionInDays", 0)(good_stack()), STACK)
    doc = json.loads(report.render("json"))
    assert doc["rulesLoaded"] == len(ALL)
    assert doc["passed"] is True
    assert doc["advisoryViolations"] == 1
    assert doc["violations"][0]["rule"] == "aws-logs-retention"
    assert doc["violations"][0]["urn"].endswith("::flow-logs")
    assert report.exit_code == 0


def test_unknown_preview_values_are_given_the_benefit_of_the_doubt() -> None:
    resources = both(
        set_("db-primary", "kmsKeyId", UNKNOWN_STRING_VALUE),
        set_("db-primary", "storageEncrypted", UNKNOWN_BOOLEAN_VALUE),
        set_("backups-policy", "policy", UNKNOWN_STRING_VALUE),
        set_("eks-pod-identity", "clusterName", UNKNOWN_STRING_VALUE),
    )(good_stack())
    report = check(resources, STACK)
    assert report.violations == ()


def test_v2_type_tokens_are_checked_like_the_current_ones() -> None:
    v2 = both(
        retype("backups", "aws:s3/bucketV2:BucketV2"),
        retype("backups-versioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"),
        retype(
            "backups-sse",
            "aws:s3/bucketServerSideEncryptionConfigurationV2:"
            "BucketServerSideEncryptionConfigurationV2",
        ),
        retype(
            "backups-lifecycle",
            "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
        ),
        retype("backups-logging", "aws:s3/bucketLoggingV2:BucketLoggingV2"),
    )
    assert check(v2(good_stack()), STACK).violations == ()
    broken = set_("backups-versioning", "versioningConfiguration.status", "Suspended")
    report = check(broken(v2(good_stack())), STACK)
    assert report.rules_violated() == {"aws-s3-versioning"}


def test_with_v2_pairs_both_directions() -> None:
    assert with_v2("aws:s3/bucketLogging:BucketLogging") == {
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketLoggingV2:BucketLoggingV2",
    }
    assert with_v2("aws:s3/bucketV2:BucketV2") == types("aws:s3/bucket:Bucket", v2=True)


def test_props_are_read_in_camel_or_snake_case() -> None:
    props = {"vpc_config": {"endpointPrivateAccess": True, "public_access_cidrs": ["10.0.0.0/8"]}}
    assert get(props, "vpcConfig", "endpoint_private_access") is True
    assert get(props, "vpcConfig", "publicAccessCidrs", 0) == "10.0.0.0/8"
    assert get(props, "vpcConfig", "missing", 3) is None


def test_region_from_own_input_then_provider() -> None:
    through_provider = Res(type="t", name="n", urn="u", props={}, provider_props={"region": "a"})
    assert through_provider.region == "a"
    own = Res(type="t", name="n", urn="u", props={"region": "b"}, provider_props={"region": "a"})
    assert own.region == "b"


def test_replica_region_from_its_own_region_input() -> None:
    """pulumi-aws 7 lets a resource override its provider's region with its `region` input."""
    in_east = move("db-replica", AWS_EAST)(good_stack())
    assert check(in_east, STACK).rules_violated() == {"aws-rds-cross-region-replica"}
    overridden = set_("db-replica", "region", "us-west-2")(in_east)
    assert check(overridden, STACK).violations == ()
