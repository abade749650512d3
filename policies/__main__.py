"""Entry point `pulumi preview --policy-pack policies` runs: assembles the pack, nothing else."""

import os
import sys
from pathlib import Path

# The CLI runs this file as a script from policies/; make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.enforcement import (
    ENVIRONMENT_VARIABLE,
    enforcement_levels,
    environment_for_stack,
)
from policies.rules import ALL

environment = environment_for_stack(
    os.environ.get(ENVIRONMENT_VARIABLE) or os.environ.get("PULUMI_STACK")
)

PolicyPack(
    name="utp-guardrails",
    description="Universal Translator Pro guardrails: EKS, RDS, ElastiCache, S3, KMS, network, "
    "logs, Route 53 failover and Kubernetes workloads.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL,
    initial_config=enforcement_levels(ALL, environment),
)
