"""AES-256-GCM envelope encryption of secrets at rest, with key ids, AAD binding and rotation.

A sealed value is `version (1 byte) | key id length (1 byte) | key id | nonce (12) | ciphertext
+ tag`. The key id says which key sealed it, so a keyring holding the current key and the
previous ones opens old rows while `rotate()` re-seals them. The additional authenticated data
binds the ciphertext to its header and to a context (for a provider credential: the workspace
and the provider), so a row copied onto another workspace's or provider's row fails to open.

Where the key comes from (`Keyring.from_settings`): production uses `UTP_ENCRYPTION_KEY` or a
data key wrapped by KMS (`UTP_ENCRYPTION_KMS_KEY_ID` + `UTP_ENCRYPTION_WRAPPED_DATA_KEY`,
unwrapped once at start-up); outside production an unset key is derived from the secret key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import ProviderCredential
from service.settings import SecuritySettings

log = logging.getLogger(__name__)

VERSION: Final = 1
NONCE_BYTES: Final = 12
KEY_BYTES: Final = 32
# Binds a KMS-wrapped data key to this service: KMS refuses to unwrap it without the context.
KMS_CONTEXT: Final = {"service": "universal-translator-pro", "purpose": "secrets-at-rest"}
_AAD_LABEL: Final = b"utp-sealed-v1\x00"
_ROTATE_BATCH: Final = 200


class CryptoError(Exception):
    """A sealed value cannot be opened; the message never contains key material."""


class UnknownKey(CryptoError):
    """Sealed with a key this keyring does not hold (add it to UTP_ENCRYPTION_PREVIOUS_KEYS)."""


class Tampered(CryptoError):
    """Authentication failed: corrupted, or moved to a row (context) it was not sealed for."""


def key_id_of(key: bytes) -> str:
    """A public name for a key: a truncated hash, never enough to recover the key."""
    return "k" + hashlib.sha256(b"utp-encryption-key-id\x00" + key).hexdigest()[:16]


def decode_key(text: str, *, variable: str = "UTP_ENCRYPTION_KEY") -> bytes:
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise CryptoError(f"{variable}: not 32 bytes in base64")
    return raw


def generate_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def development_key(secret_key: str) -> bytes:
    """Stable per-installation key for development, derived from the secret key."""
    return hashlib.sha256(b"utp-development-encryption-key\x00" + secret_key.encode()).digest()


def credential_context(workspace_id: uuid.UUID, provider: str) -> bytes:
    return b"provider_credentials\x00" + workspace_id.bytes + b"\x00" + provider.encode()


def key_id_in(blob: bytes) -> str:
    """The id of the key that sealed `blob` (read from its header, no key needed)."""
    if len(blob) < 2 or blob[0] != VERSION or len(blob) < 2 + blob[1] + NONCE_BYTES + 16:
        raise Tampered("not a sealed value of a known format")
    return blob[2 : 2 + blob[1]].decode("ascii", errors="replace")


@dataclass(frozen=True)
class Keyring:
    """The current key (seals) and every key that may open existing values."""

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @classmethod
    def of(cls, current: bytes, previous: Sequence[bytes] = ()) -> Keyring:
        keys = {key_id_of(k): k for k in previous}
        keys[key_id_of(current)] = current
        return cls(current_id=key_id_of(current), keys=keys)

    @classmethod
    def from_settings(
        cls, security: SecuritySettings, *, production: bool, kms: Any = None
    ) -> Keyring:
        """Build the keyring from settings; `kms` is a boto3 KMS client (made when needed).

        Raises `CryptoError` when a key is malformed or KMS refuses to unwrap one.
        """
        previous: list[bytes] = []
        for raw in security.encryption_previous_keys.get().split(","):
            entry = raw.strip()
            if entry.startswith("kms:"):
                kms = kms or kms_client(security)
                previous.append(unwrap(kms, entry[4:], key_id=None))
            elif entry:
                previous.append(decode_key(entry, variable="UTP_ENCRYPTION_PREVIOUS_KEYS"))
        dev = development_key(security.secret_key.get())
        if security.encryption_kms_key_id:
            kms = kms or kms_client(security)
            current = unwrap(
                kms,
                security.encryption_wrapped_data_key,
                key_id=security.encryption_kms_key_id,
            )
        elif security.encryption_key:
            current = decode_key(security.encryption_key.get())
        elif production:
            raise CryptoError("no encryption key is configured (UTP_ENCRYPTION_KEY)")
        else:
            log.warning(
                "UTP_ENCRYPTION_KEY is not set: provider keys are encrypted with a development "
                "key derived from UTP_SECRET_KEY (never do this in production)"
            )
            current = dev
        if not production and current != dev:
            # Rows sealed before a real key was configured still open in development.
            previous.append(dev)
        return cls.of(current, previous)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        kid = self.current_id.encode("ascii")
        header = bytes([VERSION, len(kid)]) + kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current_id]).encrypt(
            nonce, plaintext, _AAD_LABEL + header + b"\x00" + context
        )
        return header + nonce + sealed

    def open(self, blob: bytes, context: bytes) -> bytes:
        kid = key_id_in(blob)
        key = self.keys.get(kid)
        if key is None:
            raise UnknownKey(f"sealed with key {kid}, which is not configured")
        header_end = 2 + blob[1]
        header, nonce = blob[:header_end], blob[header_end : header_end + NONCE_BYTES]
        try:
            return AESGCM(key).decrypt(
                nonce, blob[header_end + NONCE_BYTES :], _AAD_LABEL + header + b"\x00" + context
            )
        except InvalidTag:
            raise Tampered(f"sealed value under key {kid} does not authenticate") from None

    def seal_text(self, text: str, context: bytes) -> bytes:
        return self.seal(text.encode(), context)

    def open_text(self, blob: bytes, context: bytes) -> str:
        return self.open(blob, context).decode()


# -- KMS ---------------------------------------------------------------------------------------


def kms_client(security: SecuritySettings) -> Any:
    import boto3  # type: ignore[import-untyped]

    region = security.encryption_kms_region or _region_of(security.encryption_kms_key_id)
    return boto3.client("kms", region_name=region or None)


def _region_of(key_id: str) -> str:
    # arn:aws:kms:<region>:<account>:key/<id>
    parts = key_id.split(":")
    return parts[3] if key_id.startswith("arn:") and len(parts) > 4 else ""


def generate_data_key(kms: Any, kms_key_id: str) -> str:
    """A new data key wrapped by `kms_key_id`: the base64 CiphertextBlob to configure."""
    reply = kms.generate_data_key(
        KeyId=kms_key_id, KeySpec="AES_256", EncryptionContext=KMS_CONTEXT
    )
    return base64.b64encode(reply["CiphertextBlob"]).decode()


def unwrap(kms: Any, wrapped: str, *, key_id: str | None) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    try:
        blob = base64.b64decode(wrapped.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("UTP_ENCRYPTION_WRAPPED_DATA_KEY is not base64") from None
    params: dict[str, Any] = {"CiphertextBlob": blob, "EncryptionContext": KMS_CONTEXT}
    if key_id:
        params["KeyId"] = key_id
    try:
        plaintext = kms.decrypt(**params)["Plaintext"]
    except (BotoCoreError, ClientError) as exc:
        raise CryptoError(f"KMS could not unwrap the data key: {exc}") from None
    if not isinstance(plaintext, bytes) or len(plaintext) != KEY_BYTES:
        raise CryptoError("KMS returned a data key that is not 32 bytes (use KeySpec AES_256)")
    return plaintext


# -- rotation ----------------------------------------------------------------------------------


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0
    # "<workspace>/<provider>: <reason>" for rows that could not be opened (no key material).
    failed: list[str] = field(default_factory=list)


async def key_usage(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many provider credentials each key id seals."""
    async with sessions() as session:
        rows = await session.execute(
            sa.select(ProviderCredential.key_id, sa.func.count()).group_by(
                ProviderCredential.key_id
            )
        )
        return {kid: int(n) for kid, n in rows}


async def rotate(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring, *, dry_run: bool = False
) -> RotationReport:
    """Re-seal with the current key every provider credential still sealed with another.

    Each row is swapped only if nobody rewrote it meanwhile (compare-and-swap on the old
    ciphertext), in batches of their own transactions; safe to run while the service serves.
    """
    report = RotationReport()
    async with sessions() as session:
        report.current = (
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(ProviderCredential)
                .where(ProviderCredential.key_id == keyring.current_id)
            )
            or 0
        )
    after: tuple[uuid.UUID, str] | None = None
    while True:
        async with sessions.begin() as session:
            query = (
                sa.select(
                    ProviderCredential.workspace_id,
                    ProviderCredential.provider,
                    ProviderCredential.secret,
                )
                .where(ProviderCredential.key_id != keyring.current_id)
                .order_by(ProviderCredential.workspace_id, ProviderCredential.provider)
                .limit(_ROTATE_BATCH)
            )
            if after is not None:
                query = query.where(
                    sa.tuple_(ProviderCredential.workspace_id, ProviderCredential.provider)
                    > sa.tuple_(sa.literal(after[0], sa.Uuid), sa.literal(after[1]))
                )
            batch = (await session.execute(query)).all()
            for workspace_id, provider, secret in batch:
                context = credential_context(workspace_id, provider)
                try:
                    plaintext = keyring.open(secret, context)
                except CryptoError as exc:
                    report.failed.append(f"{workspace_id}/{provider}: {exc}")
                    continue
                if dry_run:
                    report.rotated += 1
                    continue
                result = await session.execute(
                    sa.update(ProviderCredential)
                    .where(
                        ProviderCredential.workspace_id == workspace_id,
                        ProviderCredential.provider == provider,
                        ProviderCredential.secret == secret,
                    )
                    .values(secret=keyring.seal(plaintext, context), key_id=keyring.current_id)
                    .execution_options(synchronize_session=False)
                )
                report.rotated += int(getattr(result, "rowcount", 0) or 0)
        if len(batch) < _ROTATE_BATCH:
            return report
        after = (batch[-1][0], batch[-1][1])
