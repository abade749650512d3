"""Pulumi resource options: stateful resources are protected from `pulumi destroy`."""

from __future__ import annotations

from collections.abc import Iterator

from policies.helpers import Res, resource_rule, types

STATEFUL = types(
    "aws:rds/instance:Instance",
    "aws:kms/key:Key",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:s3/bucket:Bucket",
    v2=True,
)


def _protected(res: Res) -> Iterator[str]:
    if not res.protect:
        yield "the stateful resource is not protected (protect=True) against deletion."


RULES = [
    resource_rule(
        name="pulumi-stateful-resources-protected",
        description="Databases, caches, buckets and KMS keys are registered with protect=True.",
        area="pulumi",
        types=STATEFUL,
        check=_protected,
        fix="pass pulumi.ResourceOptions(protect=True) (the production stack config turns it on).",
        production_only=True,
    ),
]
