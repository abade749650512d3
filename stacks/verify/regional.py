"""Values that must exist in the region they are used in.

EC2 instance types per region come from moto's snapshot of `DescribeInstanceTypeOfferings`
(`moto/ec2/resources/instance_type_offerings/region/<region>.json.gz`, installed with the test
dependencies; the version is printed with each problem). EKS versions: the add-on table in
infra/eks.py, which is only filled for versions EKS offers in standard support.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from functools import cache
from importlib import metadata, resources

from infra.eks import ADDON_VERSIONS
from stacks.graph import RecordedResource
from stacks.regions import GraphIndex


@cache
def ec2_instance_types(region: str) -> frozenset[str] | None:
    """The instance types offered in `region` (None when the snapshot has no such region)."""
    try:
        data = resources.files("moto.ec2.resources.instance_type_offerings.region")
        raw = (data / f"{region}.json.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return frozenset(o["InstanceType"] for o in json.loads(gzip.decompress(raw)))


def _source() -> str:
    return f"moto {metadata.version('moto')} instance-type offerings"


def regional_problems(graph: Sequence[RecordedResource]) -> list[str]:
    index = GraphIndex(graph)
    problems: list[str] = []
    for r in index.of_type("aws:eks/nodeGroup:NodeGroup"):
        region = index.effective_region(r)
        offered = ec2_instance_types(region) if region else None
        if offered is None:
            problems.append(f"regional: {r.name}: no offline instance-type list for {region}")
            continue
        for instance_type in r.inputs.get("instanceTypes") or []:
            if instance_type not in offered:
                problems.append(
                    f"regional: {r.name}: instance type {instance_type} is not offered in"
                    f" {region} ({_source()})"
                )
    for r in index.of_type("aws:eks/cluster:Cluster"):
        version = r.inputs.get("version")
        if version not in ADDON_VERSIONS:
            problems.append(f"regional: {r.name}: Kubernetes {version} has no pinned add-ons")
    return problems
