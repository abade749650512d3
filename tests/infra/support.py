"""Helpers for component tests."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def aws_opts(region: str = "us-east-1") -> pulumi.ResourceOptions:
    """Options with an explicit AWS provider, as the stacks pass them to components."""
    provider = aws.Provider(f"aws-{region}", region=region)
    return pulumi.ResourceOptions(providers=[provider])


def random_provider() -> pulumi.ResourceOptions:
    """Options with an explicit random provider (default providers are disabled)."""
    import pulumi_random as random

    return pulumi.ResourceOptions(providers=[random.Provider("random")])
