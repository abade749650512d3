"""Which service versions a stack runs and ran: from its live update history, never the
committed stack file (a fresh checkout, as in CI, holds whatever tag was last committed).

Every `up` records the config it deployed, so the history lists the deployed image tags in
order. A deployment counts as *good* (it passed its health gate) unless a rollback replaced
it: a failed gate is always followed by the automatic rollback, and an operator's rollback
marks the release it undid the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any, Protocol

from pulumi import automation as auto

VERSION = re.compile(r"^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
SERVICE_KEY = "utp:service"
MESSAGE_VERSION = re.compile(r"\b(?:deploy|rollback to) (v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)")
ROLLBACK_MESSAGE = "utp-infra rollback to"


class History(Protocol):
    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[auto.UpdateSummary]: ...


def _config_value(raw: Any) -> str | None:
    if isinstance(raw, auto.ConfigValue):
        return raw.value
    if isinstance(raw, Mapping):
        value = raw.get("value")
        return None if value is None else str(value)
    return None if raw is None else str(raw)


def version_of_update(update: auto.UpdateSummary) -> str | None:
    """The image tag an update deployed: from its recorded config, else from its message."""
    config: Mapping[str, Any] = update.config or {}
    service = _config_value(config.get(SERVICE_KEY))
    if service:
        try:
            tag = json.loads(service).get("imageTag")
        except (ValueError, AttributeError):
            tag = None
        if tag:
            return str(tag)
    match = MESSAGE_VERSION.search(update.message or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class Deployment:
    """One succeeded update and the image tag it put in place."""

    version: str
    started: datetime
    message: str
    rolled_back: bool  # a rollback replaced it: failed its health gate, or undone by hand


def deployments(stack: History, depth: int = 100) -> list[Deployment]:
    """Succeeded updates of the live stack, newest first (the first one is running)."""
    updates = sorted(
        stack.history(page_size=depth, page=1, show_secrets=False),
        key=lambda u: (u.start_time, u.version),
    )
    # Index of each update that a rollback (the next update) replaced.
    replaced = {
        i
        for i, (before, after) in enumerate(pairwise(updates))
        if (after.message or "").startswith(ROLLBACK_MESSAGE)
        and version_of_update(before) != version_of_update(after)
    }
    found = []
    for i in reversed(range(len(updates))):
        update = updates[i]
        version = version_of_update(update)
        if update.kind == "update" and update.result == "succeeded" and version:
            found.append(
                Deployment(version, update.start_time, update.message or "", i in replaced)
            )
    return found


def running_version(stack: History) -> str | None:
    """The image tag of the newest succeeded update: what the cluster runs."""
    found = deployments(stack)
    return found[0].version if found else None


def last_good(history: Sequence[Deployment], *, other_than: str | None) -> str | None:
    """The newest deployment in `history` that no rollback replaced, of another version."""
    for deployment in history:
        if not deployment.rolled_back and deployment.version != other_than:
            return deployment.version
    return None


def rollback_target(stack: History) -> str | None:
    """What a plain rollback returns to: the last good release before the running one."""
    found = deployments(stack)
    if not found:
        return None
    return last_good(found[1:], other_than=found[0].version)


# -- the registry -----------------------------------------------------------------------------


class RegistryError(RuntimeError):
    """The image registry could not be read, or holds no release image."""


def newest_image_tag(repository_url: str, *, client: Any = None) -> str:
    """The release tag (vX.Y.Z) of the image pushed last to the stack's ECR repository.

    `repository_url` is the stack's `repositoryUrl` output, `<account>.dkr.ecr.<region>.<dns
    suffix>/<name>`; untagged images and tags that are not release versions are ignored.
    """
    import boto3  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    host, _, name = repository_url.partition("/")
    labels = host.split(".")
    if not name or len(labels) < 4 or labels[1:3] != ["dkr", "ecr"]:
        raise RegistryError(f"{repository_url!r} is not an ECR repository URL")
    ecr = client or boto3.client("ecr", region_name=labels[3])
    newest: tuple[datetime, str] | None = None
    try:
        pages = ecr.get_paginator("describe_images").paginate(
            repositoryName=name, registryId=labels[0], filter={"tagStatus": "TAGGED"}
        )
        for page in pages:
            for image in page["imageDetails"]:
                tags = sorted(t for t in image.get("imageTags", []) if VERSION.match(t))
                if tags and (newest is None or image["imagePushedAt"] > newest[0]):
                    newest = (image["imagePushedAt"], tags[-1])
    except (ClientError, BotoCoreError) as exc:
        raise RegistryError(f"cannot list the images of {name}: {exc}") from None
    if newest is None:
        raise RegistryError(f"{name} holds no image tagged vX.Y.Z")
    return newest[1]
