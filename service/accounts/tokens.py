"""End-user JWTs: HS256 only, issuer/audience/lifetime checked, revocable through a jti denylist.

Implemented with the standard library (RFC 7515/7519 compact form) because the whole feature is
one MAC and a handful of claim checks. The algorithm is pinned: the header must say HS256 and
nothing else is ever tried, so `none` and RS/HS confusion tricks have nothing to work with.

Revocation: every verification consults `revoked_tokens` (and that the user still exists in the
token's workspace). A token found valid is remembered for `jwt_revocation_cache_seconds`
(2 s by default) per process; a revocation made in this process applies at once, one made on
another replica within that delay.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import RevokedToken, User
from service.errors import Unauthorized
from service.settings import SecuritySettings

ALGORITHM = "HS256"
# Clock skew tolerated on exp/nbf/iat between replicas.
LEEWAY_SECONDS = 30
ROLES = frozenset({"user", "admin"})


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says; `sub` is the Rocket.Chat user id."""

    sub: str
    workspace_id: uuid.UUID
    user_pk: uuid.UUID
    role: str
    jti: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: Claims


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    if not segment or any(c not in _B64_ALPHABET for c in segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def looks_like_jwt(value: str) -> bool:
    """A compact JWS has three dot-separated segments; API keys never contain a dot."""
    return value.count(".") == 2


def _invalid(reason: str) -> Unauthorized:
    return Unauthorized(
        f"invalid token: {reason}", code="invalid_token", headers={"WWW-Authenticate": "Bearer"}
    )


class TokenCodec:
    """Signs and checks HS256 tokens with the service secret (no database involved)."""

    def __init__(self, security: SecuritySettings) -> None:
        self._key = hashlib.sha256(b"utp-jwt\x00" + security.secret_key.get().encode()).digest()
        self.issuer = security.jwt_issuer
        self.audience = security.jwt_audience
        self.ttl = security.jwt_ttl_seconds

    def _sign(self, signing_input: bytes) -> bytes:
        return hmac.new(self._key, signing_input, hashlib.sha256).digest()

    def issue(
        self,
        *,
        sub: str,
        workspace_id: uuid.UUID,
        user_pk: uuid.UUID,
        role: str,
        now: float | None = None,
        ttl: int | None = None,
    ) -> IssuedToken:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        issued = int(now if now is not None else time.time())
        claims = Claims(
            sub=sub,
            workspace_id=workspace_id,
            user_pk=user_pk,
            role=role,
            jti=secrets.token_hex(16),
            issued_at=issued,
            expires_at=issued + (ttl if ttl is not None else self.ttl),
        )
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": claims.sub,
            "wid": str(claims.workspace_id),
            "uid": str(claims.user_pk),
            "role": claims.role,
            "jti": claims.jti,
            "iat": claims.issued_at,
            "nbf": claims.issued_at,
            "exp": claims.expires_at,
        }
        return IssuedToken(token=self.encode(payload), claims=claims)

    def encode(self, payload: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        head = header if header is not None else {"alg": ALGORITHM, "typ": "JWT"}
        signing_input = (
            _b64encode(json.dumps(head, separators=(",", ":")).encode())
            + "."
            + _b64encode(json.dumps(payload, separators=(",", ":")).encode())
        ).encode("ascii")
        return signing_input.decode("ascii") + "." + _b64encode(self._sign(signing_input))

    def decode(self, token: str, *, now: float | None = None) -> Claims:
        """Check signature and claims; raise 401 `invalid_token` / `token_expired` otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise _invalid("not a compact JWS")
        head_b64, payload_b64, signature_b64 = parts
        try:
            header = json.loads(_b64decode(head_b64))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _invalid("malformed header") from None
        # The algorithm is pinned before anything else is looked at.
        if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
            raise _invalid("algorithm not allowed")
        if header.get("crit") is not None:
            raise _invalid("unsupported critical header")
        try:
            signature = _b64decode(signature_b64)
        except (ValueError, binascii.Error):
            raise _invalid("malformed signature") from None
        expected = self._sign(f"{head_b64}.{payload_b64}".encode("ascii"))
        if not hmac.compare_digest(signature, expected):
            raise _invalid("bad signature")
        try:
            payload = json.loads(_b64decode(payload_b64))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _invalid("malformed payload") from None
        if not isinstance(payload, dict):
            raise _invalid("malformed payload")
        return self._claims(payload, time.time() if now is None else now)

    def _claims(self, payload: dict[str, Any], now: float) -> Claims:
        if payload.get("iss") != self.issuer:
            raise _invalid("wrong issuer")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise _invalid("wrong audience")
        numbers = {k: payload.get(k) for k in ("exp", "iat", "nbf")}
        for name, value in numbers.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise _invalid(f"missing or malformed {name}")
        exp, iat, nbf = numbers["exp"], numbers["iat"], numbers["nbf"]
        assert exp is not None and iat is not None and nbf is not None
        if exp <= now - LEEWAY_SECONDS:
            raise Unauthorized(
                "this token has expired; exchange a new one",
                code="token_expired",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if nbf > now + LEEWAY_SECONDS or iat > now + LEEWAY_SECONDS:
            raise _invalid("not valid yet")
        sub, jti, role = payload.get("sub"), payload.get("jti"), payload.get("role")
        if not isinstance(sub, str) or not sub or len(sub) > 64:
            raise _invalid("missing subject")
        if not isinstance(jti, str) or not jti or len(jti) > 64:
            raise _invalid("missing jti")
        if role not in ROLES:
            raise _invalid("unknown role")
        try:
            workspace_id = uuid.UUID(str(payload.get("wid")))
            user_pk = uuid.UUID(str(payload.get("uid")))
        except ValueError:
            raise _invalid("malformed workspace or user") from None
        return Claims(
            sub=sub,
            workspace_id=workspace_id,
            user_pk=user_pk,
            role=str(role),
            jti=jti,
            issued_at=iat,
            expires_at=exp,
        )


class TokenVerifier:
    """Codec plus the database checks: the jti is not revoked and the user still exists."""

    def __init__(
        self,
        codec: TokenCodec,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache_seconds: float = 2.0,
    ) -> None:
        self.codec = codec
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._valid_until: dict[str, float] = {}
        self._revoked_here: set[str] = set()

    async def verify(self, token: str) -> Claims:
        claims = self.codec.decode(token)
        if claims.jti in self._revoked_here:
            raise _revoked()
        now = time.monotonic()
        if self._valid_until.get(claims.jti, 0.0) > now:
            return claims
        async with self._sessions() as session:
            row = (
                await session.execute(
                    sa.select(
                        User.id,
                        sa.select(RevokedToken.jti)
                        .where(RevokedToken.jti == claims.jti)
                        .scalar_subquery(),
                    ).where(User.id == claims.user_pk, User.workspace_id == claims.workspace_id)
                )
            ).first()
        if row is None:
            raise _invalid("unknown user")
        if row[1] is not None:
            raise _revoked()
        if len(self._valid_until) > 10_000:
            self._valid_until.clear()
        self._valid_until[claims.jti] = now + self._cache_seconds
        return claims

    async def revoke(self, session: AsyncSession, claims: Claims) -> bool:
        """Add the token to the denylist (in the caller's transaction); False if already there."""
        if len(self._revoked_here) > 100_000:
            # Only a shortcut: the database denylist stays authoritative.
            self._revoked_here.clear()
        self._revoked_here.add(claims.jti)
        self._valid_until.pop(claims.jti, None)
        exists = await session.scalar(
            sa.select(RevokedToken.jti).where(RevokedToken.jti == claims.jti)
        )
        if exists is not None:
            return False
        session.add(
            RevokedToken(jti=claims.jti, expires_at=datetime.fromtimestamp(claims.expires_at, UTC))
        )
        await session.flush()
        return True


def _revoked() -> Unauthorized:
    return Unauthorized(
        "this token has been revoked",
        code="token_revoked",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Forget denylist entries whose tokens have expired anyway; returns how many."""
    moment = now or datetime.now(UTC)
    result = await session.execute(
        sa.delete(RevokedToken).where(
            RevokedToken.expires_at < moment - timedelta(seconds=LEEWAY_SECONDS)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
