"""The release's Slack notification (`utp-infra deploy`/`rollback`, stacks/release.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


class SlackNotifier:
    """Posts a JSON payload to a Slack incoming webhook; the URL is a secret and never logged."""

    def __init__(self, webhook_url: str, log: Callable[[str], None], timeout: float = 10.0) -> None:
        self._url = webhook_url
        self._log = log
        self._timeout = timeout

    def __call__(self, payload: dict[str, Any]) -> None:
        if not self._url:
            self._log("notify: no UTP_SLACK_WEBHOOK_URL; skipped")
            return
        try:
            response = httpx.post(self._url, json=payload, timeout=self._timeout)
            response.raise_for_status()
            self._log("notify: sent")
        except httpx.HTTPError as exc:
            # A notification failure never changes the release outcome.
            status = getattr(getattr(exc, "response", None), "status_code", None)
            self._log(f"notify: failed ({type(exc).__name__}{f' HTTP {status}' if status else ''})")
