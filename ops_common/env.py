"""A setting from the environment: the variable, or the file `<VAR>_FILE` names.

One implementation for the service's settings (service/settings.py) and `utp-infra deploy`, which
needs two of the service's operator secrets (the health check's API key and the Slack webhook)
without loading, and validating, the whole service configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class SecretEnvError(ValueError):
    """The variable cannot be read; the message names it."""


def read_secret_file(path: str | Path) -> str:
    """A secret file's text without the one trailing newline editors and `echo` add."""
    return Path(path).read_text().removesuffix("\n").removesuffix("\r")


def value_from_env(var: str, environ: Mapping[str, str]) -> str | None:
    """`var`, or the text of the file `<var>_FILE` names (Docker and Compose secrets under
    /run/secrets); None when neither is set. An empty `_FILE` is unset, and so is an empty
    `var` beside a file: an env file listing every secret empty (.env.production.example) must
    not make the files ambiguous."""
    raw = environ.get(var)
    path = environ.get(var + "_FILE")
    if not path:
        return raw
    if raw:
        raise SecretEnvError(f"set {var} or {var}_FILE, not both")
    try:
        return read_secret_file(path)
    except OSError as exc:
        raise SecretEnvError(f"{var}_FILE: cannot read {path}: {exc.strerror}") from None


def secret_from_env(var: str, environ: Mapping[str, str] | None = None) -> str:
    """`var`, or the file `<var>_FILE` names, stripped; "" when neither."""
    return (value_from_env(var, os.environ if environ is None else environ) or "").strip()
