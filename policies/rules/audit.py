"""Audit and detection, checked as a stack: a multi-region CloudTrail trail, and GuardDuty (with
EKS protection) and AWS Config recording in every region the stack deploys to."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.helpers import (
    UNKNOWN,
    Res,
    as_list,
    get,
    is_false,
    is_set,
    is_true,
    of_type,
    refers_to,
    stack_rule,
    types,
)

TRAIL = types("aws:cloudtrail/trail:Trail")
DETECTOR = types("aws:guardduty/detector:Detector")
DETECTOR_FEATURE = types("aws:guardduty/detectorFeature:DetectorFeature")
RECORDER = types("aws:cfg/recorder:Recorder")
DELIVERY_CHANNEL = types("aws:cfg/deliveryChannel:DeliveryChannel")
RECORDER_STATUS = types("aws:cfg/recorderStatus:RecorderStatus")

# Features a detector needs for the clusters (pulumi-aws 7.51.1 DetectorFeature names).
EKS_FEATURES = ("EKS_AUDIT_LOGS", "RUNTIME_MONITORING")

Findings = Iterator[tuple[str, str | None]]


def deployed_regions(resources: list[Res]) -> list[str]:
    """The regions the stack's AWS resources live in."""
    return sorted({r.region for r in resources if r.type.startswith("aws:") and r.region})


def region_anchor(resources: list[Res], region: str) -> str | None:
    """What a finding about something missing in `region` points at: the region's provider."""
    for r in resources:
        if r.type.startswith("aws:") and r.region == region and r.provider_urn:
            return r.provider_urn
    return None


def _enabled(value: Any) -> bool:
    return value in ("ENABLED", UNKNOWN)


def _trail_problems(trail: Res) -> list[str]:
    problems = []
    if not is_true(trail.get("isMultiRegionTrail")):
        problems.append("is not multi-region")
    if not is_true(trail.get("enableLogFileValidation")):
        problems.append("does not validate log files")
    if not is_set(trail.get("kmsKeyId")):
        problems.append("is not encrypted with a KMS key")
    if is_false(trail.get("includeGlobalServiceEvents")):
        problems.append("leaves out global service events (IAM, STS)")
    if is_false(trail.get("enableLogging")):
        problems.append("is not logging")
    return problems


def _cloudtrail(resources: list[Res], _config: Mapping[str, Any]) -> Findings:
    trails = of_type(resources, TRAIL)
    if not trails:
        regions = deployed_regions(resources)
        yield (
            "The stack has no CloudTrail trail.",
            (region_anchor(resources, regions[0]) if regions else None),
        )
        return
    findings = [(t, _trail_problems(t)) for t in trails]
    if any(not problems for _, problems in findings):
        return
    for trail, problems in findings:
        yield f"CloudTrail trail '{trail.name}' {', '.join(problems)}.", trail.urn


def _guardduty(resources: list[Res], _config: Mapping[str, Any]) -> Findings:
    detectors = [d for d in of_type(resources, DETECTOR) if not is_false(d.get("enable"))]
    features = of_type(resources, DETECTOR_FEATURE)
    for region in deployed_regions(resources):
        here = [d for d in detectors if d.region == region]
        if not here:
            yield f"No enabled GuardDuty detector in {region}.", region_anchor(resources, region)
            continue
        detector = here[0]
        on = {
            f.get("name")
            for f in features
            if refers_to(f, "detectorId", detector) and _enabled(f.get("status"))
        }
        missing = [f for f in EKS_FEATURES if f not in on and UNKNOWN not in on]
        if missing:
            yield (
                f"GuardDuty detector '{detector.name}' ({region}) lacks EKS protection:"
                f" {', '.join(missing)} not enabled.",
                detector.urn,
            )


def _config_recorder(resources: list[Res], _config: Mapping[str, Any]) -> Findings:
    recorders = of_type(resources, RECORDER)
    channels = of_type(resources, DELIVERY_CHANNEL)
    statuses = of_type(resources, RECORDER_STATUS)
    for region in deployed_regions(resources):
        here = [r for r in recorders if r.region == region]
        if not here:
            yield f"No AWS Config recorder in {region}.", region_anchor(resources, region)
            continue
        recorder = here[0]
        group = recorder.get("recordingGroup")
        records_all = group is None or group is UNKNOWN or is_true(get(group, "allSupported"))
        if not records_all and not as_list(get(group, "resourceTypes")):
            yield f"AWS Config recorder '{recorder.name}' records nothing.", recorder.urn
        if not any(c.region == region and is_set(c.get("s3BucketName")) for c in channels):
            yield f"No AWS Config delivery channel to S3 in {region}.", recorder.urn
        if not any(
            s.region == region and is_true(s.get("isEnabled")) and refers_to(s, "name", recorder)
            for s in statuses
        ):
            yield f"AWS Config recorder '{recorder.name}' is never started.", recorder.urn


RULES = [
    stack_rule(
        name="aws-cloudtrail-multi-region",
        description="A multi-region CloudTrail trail logs the account: global service events, "
        "log file validation, KMS encryption.",
        area="audit",
        check=_cloudtrail,
        fix="add an aws.cloudtrail.Trail with isMultiRegionTrail, includeGlobalServiceEvents, "
        "enableLogFileValidation and kmsKeyId, delivering to the log archive bucket.",
    ),
    stack_rule(
        name="aws-guardduty-eks-protection",
        description="Every region has an enabled GuardDuty detector with EKS audit-log and "
        "runtime monitoring.",
        area="audit",
        check=_guardduty,
        fix="add an aws.guardduty.Detector per region and aws.guardduty.DetectorFeature "
        f"{' and '.join(EKS_FEATURES)} with status ENABLED.",
    ),
    stack_rule(
        name="aws-config-recorder",
        description="Every region records its configuration with AWS Config, delivered to S3.",
        area="audit",
        check=_config_recorder,
        fix="add an aws.cfg.Recorder (allSupported), an aws.cfg.DeliveryChannel to the log "
        "archive bucket and an aws.cfg.RecorderStatus with isEnabled in each region.",
    ),
]
