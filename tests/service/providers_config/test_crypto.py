"""AES-256-GCM sealing of provider keys: AAD binding, key ids, KMS-wrapped data keys, rotation."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from moto import mock_aws

from service.accounts.crypto import (
    Keyring,
    Tampered,
    UnknownKey,
    credential_context,
    generate_data_key,
    key_id_in,
    rotate,
)
from service.accounts.keys import ensure_default_workspace
from service.accounts.providers import put_credential
from service.cli import main
from service.db.models import ProviderCredential
from service.db.session import create_engine, session_factory
from service.settings import Secret, SecuritySettings, Settings, SettingsError

OLD = os.urandom(32)
NEW = os.urandom(32)
WS_A, WS_B = uuid.uuid4(), uuid.uuid4()
SECRET = "sk-proj-Sup3rSecretWorkspaceKey0123456789"


def test_sealed_value_hides_the_key_and_opens_only_in_its_own_row() -> None:
    ring = Keyring.of(NEW)
    context = credential_context(WS_A, "openai")
    one, two = ring.seal_text(SECRET, context), ring.seal_text(SECRET, context)
    assert one != two  # a fresh 96-bit nonce each time
    assert SECRET.encode() not in one and b"Sup3rSecret" not in one
    assert key_id_in(one) == ring.current_id
    assert ring.open_text(one, context) == SECRET
    # Copied onto another workspace's row, or onto another provider's: refuses to open.
    with pytest.raises(Tampered):
        ring.open(one, credential_context(WS_B, "openai"))
    with pytest.raises(Tampered):
        ring.open(one, credential_context(WS_A, "anthropic"))
    flipped = bytearray(one)
    flipped[-1] ^= 1
    with pytest.raises(Tampered):
        ring.open(bytes(flipped), context)
    # A different key id written into the header no longer authenticates either.
    other = Keyring.of(OLD, [NEW])
    forged = one.replace(ring.current_id.encode(), other.current_id.encode())
    with pytest.raises(Tampered):
        other.open(forged, context)


def test_old_values_open_only_while_their_key_is_listed() -> None:
    context = credential_context(WS_A, "deepl")
    sealed_old = Keyring.of(OLD).seal(b"k", context)
    with pytest.raises(UnknownKey):
        Keyring.of(NEW).open(sealed_old, context)
    assert Keyring.of(NEW, [OLD]).open(sealed_old, context) == b"k"


def _security(**changes: Any) -> SecuritySettings:
    return replace(SecuritySettings(), **changes)


def test_keys_from_settings_development_and_production() -> None:
    dev = Keyring.from_settings(_security(secret_key=Secret("a" * 40)), production=False)
    again = Keyring.from_settings(_security(secret_key=Secret("a" * 40)), production=False)
    other = Keyring.from_settings(_security(secret_key=Secret("b" * 40)), production=False)
    assert dev.current_id == again.current_id != other.current_id
    configured = Keyring.from_settings(
        _security(
            secret_key=Secret("a" * 40), encryption_key=Secret(base64.b64encode(NEW).decode())
        ),
        production=False,
    )
    # Rows sealed with the derived development key still open after a real key is set.
    assert dev.current_id in configured.keys and configured.current_id != dev.current_id
    prod = Keyring.from_settings(
        _security(
            encryption_key=Secret(base64.b64encode(NEW).decode()),
            encryption_previous_keys=Secret(base64.b64encode(OLD).decode()),
        ),
        production=True,
    )
    assert set(prod.keys) == {Keyring.of(NEW).current_id, Keyring.of(OLD).current_id}


def _prod_env(**extra: str) -> dict[str, str]:
    return {
        "UTP_ENVIRONMENT": "production",
        "UTP_SECRET_KEY": "s" * 40,
        "UTP_DATABASE_URL": "postgresql://u:p@db:5432/utp",
        **extra,
    }


def test_production_refuses_to_start_without_an_encryption_key() -> None:
    with pytest.raises(SettingsError, match="UTP_ENCRYPTION_KEY"):
        Settings.from_env(_prod_env())
    with pytest.raises(SettingsError, match="UTP_ENCRYPTION_KEY"):
        Settings.from_env(_prod_env(UTP_ENCRYPTION_KEY="too-short"))
    with pytest.raises(SettingsError, match="UTP_ENCRYPTION_WRAPPED_DATA_KEY"):
        Settings.from_env(_prod_env(UTP_ENCRYPTION_KMS_KEY_ID="alias/utp"))
    with pytest.raises(SettingsError, match="UTP_ENCRYPTION_PREVIOUS_KEYS"):
        Settings.from_env(
            _prod_env(
                UTP_ENCRYPTION_KEY=base64.b64encode(NEW).decode(),
                UTP_ENCRYPTION_PREVIOUS_KEYS="nonsense",
            )
        )
    ok = Settings.from_env(_prod_env(UTP_ENCRYPTION_KEY=base64.b64encode(NEW).decode()))
    assert ok.security.encryption_key


@pytest.fixture
def kms() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


def test_production_data_key_is_unwrapped_by_kms(kms: Any) -> None:
    key_id = kms.create_key(Description="utp")["KeyMetadata"]["KeyId"]
    wrapped = generate_data_key(kms, key_id)
    security = _security(encryption_kms_key_id=key_id, encryption_wrapped_data_key=wrapped)
    ring = Keyring.from_settings(security, production=True, kms=kms)
    plain = kms.decrypt(
        CiphertextBlob=base64.b64decode(wrapped),
        EncryptionContext={"service": "universal-translator-pro", "purpose": "secrets-at-rest"},
    )["Plaintext"]
    assert ring.current_id == Keyring.of(plain).current_id
    assert ring.keys.keys() == {ring.current_id}  # no development key in production
    context = credential_context(WS_A, "google")
    sealed = ring.seal(b"AIza-key", context)
    # After moving to a new data key, the old wrapped one is a previous key.
    rotated = Keyring.from_settings(
        replace(
            security,
            encryption_wrapped_data_key=generate_data_key(kms, key_id),
            encryption_previous_keys=Secret(f"kms:{wrapped}"),
        ),
        production=True,
        kms=kms,
    )
    assert rotated.current_id != ring.current_id
    assert rotated.open(sealed, context) == b"AIza-key"
    # A wrapped key KMS will not unwrap (another key's blob, tampered) stops start-up.
    from service.accounts.crypto import CryptoError

    broken = base64.b64encode(base64.b64decode(wrapped)[:-1] + b"x").decode()
    with pytest.raises(CryptoError, match="KMS could not unwrap"):
        Keyring.from_settings(
            replace(security, encryption_wrapped_data_key=broken), production=True, kms=kms
        )


async def test_rotation_reseals_every_old_row(sqlite_settings: Settings) -> None:
    engine = create_engine(sqlite_settings.database_url)
    sessions = session_factory(engine)
    try:
        issued = await ensure_default_workspace(sessions, None)
        assert issued is not None
        ws = issued.workspace_id
        old_ring, new_ring = Keyring.of(OLD), Keyring.of(NEW, [OLD])
        async with sessions.begin() as session:
            for name, key in (("deepl", "deepl-key-0001:fx"), ("openai", SECRET)):
                await put_credential(session, old_ring, ws, name, api_key=key, production=False)
        async with sessions() as session:
            before = {
                r.provider: r.secret for r in await session.scalars(sa.select(ProviderCredential))
            }

        dry = await rotate(sessions, new_ring, dry_run=True)
        assert (dry.rotated, dry.current) == (2, 0)
        report = await rotate(sessions, new_ring)
        assert (report.rotated, report.failed) == (2, [])
        async with sessions() as session:
            rows = {r.provider: r for r in await session.scalars(sa.select(ProviderCredential))}
        for name, row in rows.items():
            assert row.key_id == new_ring.current_id == key_id_in(row.secret)
            assert row.secret != before[name]
            # The new rows open with the new key alone; the old ciphertext needs the old key.
            assert Keyring.of(NEW).open(row.secret, credential_context(ws, name))
            with pytest.raises(UnknownKey):
                Keyring.of(NEW).open(before[name], credential_context(ws, name))
        assert (
            Keyring.of(NEW).open_text(rows["openai"].secret, credential_context(ws, "openai"))
            == SECRET
        )
        again = await rotate(sessions, new_ring)
        assert (again.rotated, again.current) == (0, 2)

        # A row under a key nobody listed is reported, not lost.
        async with sessions.begin() as session:
            await put_credential(
                session,
                Keyring.of(os.urandom(32)),
                ws,
                "google",
                api_key="AIza-x",
                production=False,
            )
        lost = await rotate(sessions, new_ring)
        assert lost.rotated == 0 and len(lost.failed) == 1 and "google" in lost.failed[0]
    finally:
        await engine.dispose()


def test_rotate_command(sqlite_settings: Settings, tmp_path: Any) -> None:
    import asyncio

    old, new = base64.b64encode(OLD).decode(), base64.b64encode(NEW).decode()

    async def seed() -> None:
        engine = create_engine(sqlite_settings.database_url)
        try:
            issued = await ensure_default_workspace(session_factory(engine), None)
            assert issued is not None
            async with session_factory(engine).begin() as session:
                await put_credential(
                    session,
                    Keyring.of(OLD),
                    issued.workspace_id,
                    "deepl",
                    api_key="deepl-key-0001:fx",
                    production=False,
                )
        finally:
            await engine.dispose()

    asyncio.run(seed())
    env = {
        "UTP_DATABASE_URL": sqlite_settings.database.database_url,
        "UTP_ENCRYPTION_KEY": new,
    }
    runner = CliRunner()
    missing = runner.invoke(main, ["encryption", "rotate"], env=env)
    assert missing.exit_code != 0 and "UTP_ENCRYPTION_PREVIOUS_KEYS" in missing.output
    done = runner.invoke(
        main, ["encryption", "rotate"], env={**env, "UTP_ENCRYPTION_PREVIOUS_KEYS": old}
    )
    assert done.exit_code == 0, done.output
    assert f"re-encrypted 1 secret(s); 0 already on key {Keyring.of(NEW).current_id}" in done.output
    status = runner.invoke(main, ["encryption", "status"], env=env)
    assert f"{Keyring.of(NEW).current_id}: 1 secret(s) (current)" in status.output
    generated = runner.invoke(main, ["encryption", "generate-key"])
    assert len(base64.b64decode(generated.output.strip())) == 32
