"""Workspace API keys: creation (shown once), verification, and the bootstrap workspace.

Keys look like `utp_<prefix>_<secret>`. The prefix is a public lookup handle; only the SHA-256
digest of the whole key is stored. A fast digest rather than argon2 is deliberate: keys carry
256 bits of randomness, so a slow hash adds no protection against guessing, while argon2 on
every request would cost tens of milliseconds on the hot path. Keys seeded from
`UTP_BOOTSTRAP_API_KEY` may have any shape; their prefix is derived from their digest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import SYSTEM_CLOCK, Clock
from service.db.models import ApiKey, Workspace
from service.db.role import unless_read_only
from service.errors import ServiceUnavailable, Unauthorized

SCOPES = frozenset({"translate", "admin", "read:usage", "operator"})
# What a workspace admin may grant through the API; `operator` (every workspace) is minted only
# by the `utp keys create --operator` command, by someone with access to the database.
GRANTABLE_SCOPES = frozenset({"translate", "admin", "read:usage"})
DEFAULT_SCOPES = ("translate", "admin", "read:usage")
DEFAULT_WORKSPACE = "default"
_KEY_RE = re.compile(r"^utp_([a-z0-9]{12})_([A-Za-z0-9_-]{20,})$")
# Records last-used times at most this often per key, not on every request.
_TOUCH_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a workspace, through one of its API keys or an end user's JWT.

    `user_id` is the Rocket.Chat user id (our `users.external_id`) of a JWT caller and None for
    API keys; `role` is `operator`, `admin` or `user` (channel_admin is decided per channel).
    """

    workspace_id: uuid.UUID
    api_key_id: uuid.UUID | None
    scopes: frozenset[str]
    user_id: str | None = None
    role: str = "user"
    token_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or "operator" in self.scopes


@dataclass(frozen=True, slots=True)
class IssuedKey:
    workspace_id: uuid.UUID
    key_id: uuid.UUID
    key: str  # the only time the plain key exists


def role_of(scopes: frozenset[str]) -> str:
    if "operator" in scopes:
        return "operator"
    if "admin" in scopes:
        return "admin"
    return "user"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str:
    match = _KEY_RE.match(key)
    return match.group(1) if match else "h" + digest(key)[:11]


def generate_key() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"utp_{prefix}_{secrets.token_urlsafe(32)}"


async def create_workspace(
    session: AsyncSession, name: str, *, key: str | None = None, key_name: str = "admin"
) -> IssuedKey:
    workspace = Workspace(id=uuid.uuid4(), name=name)
    session.add(workspace)
    await session.flush()
    return await issue_key(session, workspace.id, name=key_name, key=key)


async def issue_key(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    name: str,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    key: str | None = None,
    expires_in: timedelta | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> IssuedKey:
    unknown = set(scopes) - SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    plain = key or generate_key()
    row = ApiKey(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        name=name,
        prefix=prefix_of(plain),
        secret_hash=digest(plain),
        scopes=" ".join(scopes),
        expires_at=clock.now() + expires_in if expires_in else None,
    )
    session.add(row)
    await session.flush()
    return IssuedKey(workspace_id=workspace_id, key_id=row.id, key=plain)


async def ensure_default_workspace(
    sessions: async_sessionmaker[AsyncSession], bootstrap_key: str | None
) -> IssuedKey | None:
    """Create the default workspace on first start; returns its key when one was created.

    With `bootstrap_key` the key is that value (automation knows it already); it is also added
    to an existing default workspace if no key with that value exists yet.
    """
    async with sessions.begin() as session:
        workspace = await session.scalar(
            sa.select(Workspace).where(Workspace.name == DEFAULT_WORKSPACE)
        )
        if workspace is None:
            return await create_workspace(session, DEFAULT_WORKSPACE, key=bootstrap_key)
        if bootstrap_key:
            exists = await session.scalar(
                sa.select(ApiKey.id).where(ApiKey.secret_hash == digest(bootstrap_key))
            )
            if exists is None:
                return await issue_key(session, workspace.id, name="bootstrap", key=bootstrap_key)
    return None


class KeyVerifier:
    """Checks presented keys against the database, remembering good ones briefly."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache_seconds: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._sessions = sessions
        self._clock = clock  # what key expiry is judged by (the cache's age is monotonic)
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float, datetime | None]] = {}
        self._touched: dict[uuid.UUID, float] = {}

    async def verify(self, key: str) -> Principal:
        hashed = digest(key)
        now = time.monotonic()
        cached = self._cache.get(hashed)
        if cached is not None and cached[1] > now:
            principal, _, expires_at = cached
            if expires_at is None or expires_at > self._clock.now():
                return principal
        try:
            async with self._sessions() as session:
                row = await session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix_of(key)))
        except (SQLAlchemyError, OSError, TimeoutError):
            # Database down: a key verified earlier keeps working (translation goes on; its
            # revocation could not be read now anyway); a key never seen cannot be checked.
            if cached is not None and (cached[2] is None or cached[2] > self._clock.now()):
                return cached[0]
            raise ServiceUnavailable(
                "the database is unreachable: this API key cannot be checked right now",
                headers={"Retry-After": "5"},
            ) from None
        if row is None or not hmac.compare_digest(row.secret_hash, hashed):
            raise Unauthorized("invalid API key", code="invalid_api_key")
        if row.revoked_at is not None:
            raise Unauthorized("this API key has been revoked", code="api_key_revoked")
        if row.expires_at is not None and row.expires_at <= self._clock.now():
            raise Unauthorized("this API key has expired", code="api_key_expired")
        scopes = frozenset(row.scopes.split())
        principal = Principal(
            workspace_id=row.workspace_id, api_key_id=row.id, scopes=scopes, role=role_of(scopes)
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[hashed] = (principal, now + self._cache_seconds, row.expires_at)
        return principal

    def forget(self, key_ids: set[uuid.UUID]) -> None:
        """Drop remembered keys at once (revoked here); other processes wait out the cache."""
        for hashed, (principal, _, _) in list(self._cache.items()):
            if principal.api_key_id in key_ids:
                del self._cache[hashed]

    def needs_touch(self, key_id: uuid.UUID) -> bool:
        now = time.monotonic()
        if now - self._touched.get(key_id, -_TOUCH_INTERVAL) < _TOUCH_INTERVAL:
            return False
        self._touched[key_id] = now
        return True

    async def touch(self, key_id: uuid.UUID) -> None:
        with unless_read_only("an API key's last use"):
            async with self._sessions.begin() as session:
                await session.execute(
                    sa.update(ApiKey)
                    .where(ApiKey.id == key_id)
                    .values(last_used_at=self._clock.now())
                )
