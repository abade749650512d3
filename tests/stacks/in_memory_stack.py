"""`InMemoryStack`: a `stacks.release.PulumiStack` without the Pulumi CLI, for the release tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from pulumi import automation as auto


class InMemoryStack:
    """A `PulumiStack` without the CLI: config, outputs and history kept in memory.

    `on_up(config)` plays the part of the program and the cloud: it is called by every `up`
    with the flattened config and returns the outputs, or raises to make the update fail.
    """

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any],
        on_up: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._name = name
        self.config: dict[str, Any] = json.loads(json.dumps(dict(config)))
        self.on_up = on_up or (lambda cfg: {})
        self._outputs: dict[str, auto.OutputValue] = {}
        self._history: list[auto.UpdateSummary] = []
        self.previews: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def _path(self, key: str, path: bool) -> tuple[dict[str, Any], str]:
        if not path or "." not in key:
            return self.config, key
        namespace, _, rest = key.partition(":")
        head, *parts = rest.split(".")
        node = self.config.setdefault(f"{namespace}:{head}", {})
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        return node, parts[-1]

    def set_config(self, key: str, value: auto.ConfigValue, *, path: bool = False) -> None:
        node, leaf = self._path(key, path)
        node[leaf] = value.value

    def get_config(self, key: str, *, path: bool = False) -> auto.ConfigValue:
        node, leaf = self._path(key, path)
        if leaf not in node:
            raise auto.CommandError(
                auto.CommandResult(
                    stdout="", stderr=f"configuration key '{key}' not found", code=255
                )
            )
        value = node[leaf]
        return auto.ConfigValue(value=value if isinstance(value, str) else json.dumps(value))

    def outputs(self) -> MutableMapping[str, auto.OutputValue]:
        return dict(self._outputs)

    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[auto.UpdateSummary]:
        newest_first = list(reversed(self._history))
        if page_size:
            start = ((page or 1) - 1) * page_size
            newest_first = newest_first[start : start + page_size]
        return newest_first

    def _recorded_config(self) -> dict[str, dict[str, Any]]:
        # As `pulumi stack history --json` reports it: every value a string.
        return {
            k: {"value": v if isinstance(v, str) else json.dumps(v), "secret": False}
            for k, v in self.config.items()
        }

    def preview(
        self, *, message: str | None = None, on_output: Callable[[str], Any] | None = None
    ) -> auto.PreviewResult:
        self.previews.append(message or "")
        if on_output:
            on_output(f"Previewing update ({self._name}): {message}")
        return auto.PreviewResult(stdout="", stderr="", change_summary={auto.OpType.UPDATE: 1})

    def up(
        self, *, message: str | None = None, on_output: Callable[[str], Any] | None = None
    ) -> auto.UpResult:
        started = datetime.now(UTC)
        config = self._recorded_config()
        try:
            outputs = self.on_up(json.loads(json.dumps(self.config)))
        except Exception as exc:
            self._history.append(
                auto.UpdateSummary(
                    kind="update", start_time=started, message=message or "",
                    environment={}, config=config, result="failed",
                    end_time=datetime.now(UTC), version=len(self._history) + 1,
                )
            )  # fmt: skip
            raise auto.CommandError(
                auto.CommandResult(stdout="", stderr=f"update failed: {exc}", code=255)
            ) from exc
        self._outputs = {k: auto.OutputValue(value=v, secret=False) for k, v in outputs.items()}
        summary = auto.UpdateSummary(
            kind="update", start_time=started, message=message or "", environment={},
            config=config, result="succeeded", end_time=datetime.now(UTC),
            version=len(self._history) + 1, resource_changes={auto.OpType.UPDATE: 1},
        )  # fmt: skip
        self._history.append(summary)
        if on_output:
            on_output(f"Updating ({self._name}): {message}")
        return auto.UpResult(stdout="", stderr="", summary=summary, outputs=dict(self._outputs))
