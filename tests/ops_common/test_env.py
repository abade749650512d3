"""A secret from the environment: the variable, or the file `<VAR>_FILE` names, never both."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_common.env import SecretEnvError, secret_from_env

VAR = "UTP_HEALTH_CHECK_API_KEY"


def test_the_variable_or_its_file_or_nothing(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("utp_key_from_file\n")
    assert secret_from_env(VAR, {VAR: " utp_key \n"}) == "utp_key"
    assert secret_from_env(VAR, {VAR + "_FILE": str(key)}) == "utp_key_from_file"
    assert secret_from_env(VAR, {}) == ""
    # An empty `_FILE` is unset, as in the service's settings.
    assert secret_from_env(VAR, {VAR: "utp_key", VAR + "_FILE": ""}) == "utp_key"


def test_both_or_an_unreadable_file_is_refused_naming_the_variable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("utp_key")
    with pytest.raises(SecretEnvError, match=f"set {VAR} or {VAR}_FILE, not both"):
        secret_from_env(VAR, {VAR: "utp_other", VAR + "_FILE": str(key)})
    missing = tmp_path / "absent"
    with pytest.raises(SecretEnvError, match=f"{VAR}_FILE: cannot read {missing}"):
        secret_from_env(VAR, {VAR + "_FILE": str(missing)})


def test_an_empty_variable_beside_its_file_leaves_the_file_in_charge(tmp_path: Path) -> None:
    # The same rule as the service's settings (one implementation): an env file listing every
    # secret empty must not make the `_FILE` secrets ambiguous.
    key = tmp_path / "key"
    key.write_text("utp_key_from_file\r\n")
    assert secret_from_env(VAR, {VAR: "", VAR + "_FILE": str(key)}) == "utp_key_from_file"
