"""The component's context shared by the modules that create its children."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.service.args import TranslatorServiceArgs


@dataclass(frozen=True, kw_only=True)
class Scope:
    """Child names derive from `name`; every child is parented to `parent`; `child` (parent
    plus the namespace as dependency) is the options object most Kubernetes children share."""

    name: str
    args: TranslatorServiceArgs
    parent: pulumi.ComponentResource
    ns: k8s.core.v1.Namespace
    child: pulumi.ResourceOptions
    labels: dict[str, str]
    image: pulumi.Output[str]
