"""A secret from the environment, read as `utp` reads its settings (service/settings.py).

`utp-infra deploy` needs two of the service's operator secrets (the health check's API key and
the Slack webhook) without loading, and validating, the whole service configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class SecretEnvError(ValueError):
    """The variable cannot be read; the message names it."""


def secret_from_env(var: str, environ: Mapping[str, str] | None = None) -> str:
    """`var`, or the file `<var>_FILE` names (Docker and Compose secrets); "" when neither."""
    env = os.environ if environ is None else environ
    raw = env.get(var)
    path = env.get(var + "_FILE")
    if path:
        if raw is not None:
            raise SecretEnvError(f"set {var} or {var}_FILE, not both")
        try:
            # One trailing newline is how editors and `echo` end a file, not part of the secret.
            raw = Path(path).read_text().removesuffix("\n").removesuffix("\r")
        except OSError as exc:
            raise SecretEnvError(f"{var}_FILE: cannot read {path}: {exc.strerror}") from None
    return (raw or "").strip()
