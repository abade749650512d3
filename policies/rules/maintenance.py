"""Maintenance and cost promises: patch windows, Kubernetes support tier, cost-allocation tags."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.helpers import UNKNOWN, Res, as_list, as_map, as_str, get, resource_rule, types

DATA_STORES = types(
    "aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup"
)
CLUSTER = types("aws:eks/cluster:Cluster")
LAUNCH_TEMPLATE = types("aws:ec2/launchTemplate:LaunchTemplate")

# The overview's promise: maintenance on Sunday between 02:00 and 04:00 UTC.
WINDOW_START, WINDOW_END = "02:00", "04:00"
_WINDOW = re.compile(r"^(\w{3}):(\d\d:\d\d)-(\w{3}):(\d\d:\d\d)$")
# What provider default tags miss: instances, volumes and ENIs a launch template creates.
TAGGED_RESOURCE_TYPES = ("instance", "volume", "network-interface")
COST_TAGS = ("Project", "Environment")


def _maintenance_window(res: Res) -> Iterator[str]:
    window = res.get("maintenanceWindow")
    if window is UNKNOWN:
        return
    match = _WINDOW.match(as_str(window).lower()) if window else None
    if match is None:
        yield "no maintenance window is set (AWS picks a random weekly slot)."
        return
    start_day, start, end_day, end = match.groups()
    # Zero-padded HH:MM strings compare in time order.
    if not (start_day == end_day == "sun" and WINDOW_START <= start < end <= WINDOW_END):
        yield (f"maintenance window {window} is outside Sunday {WINDOW_START}-{WINDOW_END} UTC.")


def _standard_support(res: Res) -> Iterator[str]:
    support = res.get("upgradePolicy", "supportType")
    if support is UNKNOWN:
        return
    if support != "STANDARD":
        shown = support if isinstance(support, str) else "unset (EXTENDED by default)"
        yield (
            f"upgrade policy support type is {shown}: a version past standard support is kept "
            "on extended support at a higher hourly price instead of being upgraded."
        )


def _launch_template_tags(res: Res) -> Iterator[str]:
    specs = res.get("tagSpecifications")
    if specs is UNKNOWN:
        return
    tagged = {
        as_str(get(spec, "resourceType")): as_map(get(spec, "tags")) for spec in as_list(specs)
    }
    for kind in TAGGED_RESOURCE_TYPES:
        missing = [t for t in COST_TAGS if t not in tagged.get(kind, {})]
        if missing:
            yield (
                f"the {kind}s it launches are not tagged {', '.join(missing)}: provider default "
                "tags do not reach them, so cost allocation and the budget miss them."
            )


RULES = [
    resource_rule(
        name="aws-maintenance-window-sunday-night",
        description="RDS instances and ElastiCache replication groups are patched inside "
        f"Sunday {WINDOW_START}-{WINDOW_END} UTC.",
        area="maintenance",
        types=DATA_STORES,
        check=_maintenance_window,
        fix="set maintenanceWindow inside sun:02:00-sun:04:00 (e.g. sun:02:00-sun:03:00), "
        "not overlapping the backup/snapshot window.",
    ),
    resource_rule(
        name="aws-eks-standard-support",
        description="EKS clusters declare the standard-support upgrade policy.",
        area="maintenance",
        types=CLUSTER,
        check=_standard_support,
        fix="set upgradePolicy {supportType: 'STANDARD'} and upgrade before standard support ends.",
    ),
    resource_rule(
        name="aws-ec2-launch-template-cost-tags",
        description="Launch templates tag the instances, volumes and network interfaces they "
        "create with the cost-allocation tags.",
        area="maintenance",
        types=LAUNCH_TEMPLATE,
        check=_launch_template_tags,
        fix="add tagSpecifications for instance, volume and network-interface carrying "
        f"{', '.join(COST_TAGS)}.",
    ),
]
