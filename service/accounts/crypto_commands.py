"""`utp encryption ...`: make keys, wrap a data key with KMS, rotate sealed secrets."""

from __future__ import annotations

import asyncio

import click

from service.accounts.crypto import Keyring
from service.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def encryption() -> None:
    """Encryption of secrets at rest (workspaces' provider keys)."""


@encryption.command("generate-key")
def generate_key() -> None:
    """Print a new random key for UTP_ENCRYPTION_KEY."""
    from service.accounts.crypto import generate_key as new_key

    click.echo(new_key())


@encryption.command("generate-data-key")
@click.option("--kms-key-id", required=True, help="KMS key id, ARN or alias that wraps it.")
@click.option("--region", default=None, help="AWS region (default: the ARN's, else AWS_REGION).")
def generate_data_key(kms_key_id: str, region: str | None) -> None:
    """Print a new data key wrapped by KMS, for UTP_ENCRYPTION_WRAPPED_DATA_KEY."""
    from dataclasses import replace

    from service.accounts.crypto import generate_data_key as wrap
    from service.accounts.crypto import kms_client
    from service.settings import SecuritySettings

    security = replace(
        SecuritySettings(), encryption_kms_key_id=kms_key_id, encryption_kms_region=region or ""
    )
    try:
        wrapped = wrap(kms_client(security), kms_key_id)
    except Exception as exc:  # botocore's errors: shown, not a traceback
        raise click.ClickException(f"KMS refused: {exc}") from None
    click.echo(f"UTP_ENCRYPTION_KMS_KEY_ID={kms_key_id}")
    click.echo(f"UTP_ENCRYPTION_WRAPPED_DATA_KEY={wrapped}")


@encryption.command("status")
def status() -> None:
    """Show the current key id and how many secrets each key seals."""
    settings = _settings()
    keyring = _keyring(settings)

    async def count() -> dict[str, int]:
        from service.accounts.crypto import key_usage
        from service.db.session import create_engine, session_factory

        engine = create_engine(settings.database_url)
        try:
            return await key_usage(session_factory(engine))
        finally:
            await engine.dispose()

    click.echo(f"current key: {keyring.current_id}")
    for kid, n in sorted(asyncio.run(count()).items()):
        known = (
            "current"
            if kid == keyring.current_id
            else "previous"
            if kid in keyring.keys
            else "MISSING"
        )
        click.echo(f"  {kid}: {n} secret(s) ({known})")


@encryption.command("rotate")
@click.option("--dry-run", is_flag=True, help="Count what would be re-encrypted; change nothing.")
def rotate(dry_run: bool) -> None:
    """Re-encrypt every secret still sealed with a previous key under the current key.

    Configure the new key as UTP_ENCRYPTION_KEY (or the KMS pair) and the old one in
    UTP_ENCRYPTION_PREVIOUS_KEYS, run this, then remove the old key.
    """
    from service.accounts.crypto import rotate as run

    settings = _settings()
    keyring = _keyring(settings)

    async def go() -> tuple[int, int, list[str]]:
        from service.accounts.workspaces import rotate_bot_tokens
        from service.db.session import create_engine, session_factory

        engine = create_engine(settings.database_url)
        try:
            sessions = session_factory(engine)
            report = await run(sessions, keyring, dry_run=dry_run)
            rotated, failed = report.rotated, list(report.failed)
            if not dry_run:
                # Rocket.Chat bot tokens are sealed with the same keys.
                bots, bot_failures = await rotate_bot_tokens(sessions, keyring)
                rotated += bots
                failed += [f"bot token of workspace {w}" for w in bot_failures]
        finally:
            await engine.dispose()
        return rotated, report.current, failed

    rotated, current, failed = asyncio.run(go())
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    click.echo(f"{verb} {rotated} secret(s); {current} already on key {keyring.current_id}")
    for line in failed:
        click.echo(f"cannot open {line}", err=True)
    if failed:
        raise click.ClickException(
            f"{len(failed)} secret(s) could not be decrypted: list their key in "
            "UTP_ENCRYPTION_PREVIOUS_KEYS and run again"
        )


def _keyring(settings: Settings) -> Keyring:
    from service.accounts.crypto import CryptoError

    try:
        return Keyring.from_settings(settings.security, production=settings.is_production)
    except CryptoError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS: list[click.Command] = [encryption]
