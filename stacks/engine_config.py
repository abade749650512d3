"""The config a stack's program receives from the Pulumi engine, rebuilt offline.

`pulumi preview/up` hands the program `PULUMI_CONFIG`: a JSON object of every key of the stack
file merged with the project file's `config:` (stack values win), each value a string (objects
and lists JSON-encoded, `secure:` values decrypted), and `PULUMI_CONFIG_SECRET_KEYS`, the keys
whose value is or contains a secret. Offline the ciphertexts cannot be decrypted, so secrets
become placeholders of the right shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from stacks.config import PROJECT, REPO_ROOT, ConfigError, StackConfig, stack_file

# A secret the engine would decrypt: offline, a value of the same shape (URLs stay URLs).
OFFLINE_SECRET = "offline-placeholder-secret"  # noqa: S105 - a stand-in, not a secret
OFFLINE_SECRET_URL = "https://offline.invalid/placeholder-secret"  # noqa: S105


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path.name}: expected a mapping")
    return doc


def _project_key(key: str) -> str:
    # Pulumi.yaml keys without a namespace belong to the project.
    return key if ":" in key else f"{PROJECT}:{key}"


def _decrypt_offline(value: Any, key: str) -> tuple[Any, bool]:
    """Replace `{secure: ...}` leaves by placeholders; report whether any was found."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            url = key.lower().endswith("url")
            return (OFFLINE_SECRET_URL if url else OFFLINE_SECRET), True
        found = False
        out: dict[str, Any] = {}
        for k, v in value.items():
            out[k], hit = _decrypt_offline(v, str(k))
            found = found or hit
        return out, found
    if isinstance(value, list):
        items = [_decrypt_offline(v, key) for v in value]
        return [v for v, _ in items], any(hit for _, hit in items)
    return value, False


def _encode(value: Any) -> str:
    """A config value as the engine passes it to the language host."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def engine_config(stack: str, root: Path = REPO_ROOT) -> tuple[dict[str, str], list[str]]:
    """(`PULUMI_CONFIG` as a dict, `PULUMI_CONFIG_SECRET_KEYS`) for `stack`."""
    path = stack_file(stack, root)
    if not path.is_file():
        raise ConfigError(f"{path.name}: no such stack file")
    project = _read(root / "Pulumi.yaml").get("config") or {}
    merged: dict[str, Any] = {}
    for key, spec in project.items():
        # `key: {value: ...}` (or `default:` for a typed declaration) or a bare value.
        if isinstance(spec, Mapping) and ("value" in spec or "default" in spec):
            merged[_project_key(str(key))] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, Mapping) or "type" not in spec:
            merged[_project_key(str(key))] = spec
    merged.update((_read(path).get("config") or {}).items())
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in merged.items():
        plain, secret = _decrypt_offline(value, key.rsplit(":", 1)[-1])
        config[key] = _encode(plain)
        if secret:
            secret_keys.append(key)
    return config, sorted(secret_keys)


@contextmanager
def engine_environment(stack: str, root: Path = REPO_ROOT) -> Iterator[None]:
    """Set `PULUMI_CONFIG`/`PULUMI_CONFIG_SECRET_KEYS` as the engine would, then restore them."""
    import os

    from pulumi.runtime import config as runtime_config

    config, secret_keys = engine_config(stack, root)
    saved = {k: os.environ.get(k) for k in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")}
    previous = runtime_config.CONFIG.get()
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
    runtime_config.CONFIG.set({})  # nothing set in-process: only what the engine passed
    try:
        yield
    finally:
        runtime_config.CONFIG.set(previous)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_as_engine(stack: str, root: Path = REPO_ROOT) -> StackConfig:
    """The StackConfig `stacks/__main__.py` builds from the engine's environment for `stack`."""
    from stacks.config import load_engine_config

    with engine_environment(stack, root):
        return load_engine_config()
