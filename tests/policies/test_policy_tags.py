"""The component-tag rule covers every taggable type the stacks create."""

from __future__ import annotations

import json

from policies.rules.tags import TAGGABLE
from stacks.verify.schema import DATA_DIR


def test_every_recorded_taggable_type_is_checked() -> None:
    record = json.loads((DATA_DIR / "pulumi-aws-7.51.1.json").read_text())
    taggable = {
        token
        for token, resource in record["resources"].items()
        if resource["inputs"]["properties"].get("tags", {}).get("additionalProperties")
        == {"type": "string"}
    }
    assert taggable
    assert taggable <= TAGGABLE, sorted(taggable - TAGGABLE)
