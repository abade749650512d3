"""HS256 user tokens: pinned algorithm, claims checked, tampering refused, revocation honoured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import replace

import pytest

from service.accounts.tokens import TokenCodec
from service.container import services_of
from service.errors import Unauthorized
from service.settings import Secret, SecuritySettings

from .conftest import Env, bearer, error_code

SECURITY = SecuritySettings(secret_key=Secret("s" * 40))
WORKSPACE = uuid.uuid4()
USER = uuid.uuid4()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "utp",
        "aud": "utp-api",
        "sub": "RcUser1",
        "wid": str(WORKSPACE),
        "uid": str(USER),
        "role": "user",
        "jti": "a" * 32,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_round_trip_and_claims() -> None:
    codec = TokenCodec(SECURITY)
    issued = codec.issue(sub="RcUser1", workspace_id=WORKSPACE, user_pk=USER, role="admin")
    claims = codec.decode(issued.token)
    assert claims == issued.claims
    assert claims.expires_at - claims.issued_at == 900  # 15 minutes by default
    header = json.loads(base64.urlsafe_b64decode(issued.token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    # Independently checkable HMAC-SHA256 over header.payload (a standard JWS).
    head, body, sig = issued.token.split(".")
    key = hashlib.sha256(b"utp-jwt\x00" + b"s" * 40).digest()
    assert _b64(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()) == sig


def _reject(token: str, codec: TokenCodec | None = None, code: str = "invalid_token") -> str:
    with pytest.raises(Unauthorized) as caught:
        (codec or TokenCodec(SECURITY)).decode(token)
    assert caught.value.code == code
    return caught.value.message


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "none", "typ": "JWT"}, "algorithm"),
        ({"alg": "None"}, "algorithm"),
        ({"alg": "HS512"}, "algorithm"),
        ({"alg": "RS256"}, "algorithm"),
        ({"typ": "JWT"}, "algorithm"),
        ({"alg": "HS256", "crit": ["exp"]}, "critical"),
    ],
)
def test_other_algorithms_are_refused(header: dict[str, object], reason: str) -> None:
    codec = TokenCodec(SECURITY)
    token = codec.encode(_payload(), header=header)
    assert reason in _reject(token)
    # Also the classic `none` attack: no signature at all.
    unsigned = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(_payload()).encode()) + "."
    _reject(unsigned)


def test_a_token_signed_with_another_secret_or_edited_is_refused() -> None:
    other = TokenCodec(replace(SECURITY, secret_key=Secret("t" * 40)))
    forged = other.encode(_payload(role="admin"))
    assert "signature" in _reject(forged)
    genuine = TokenCodec(SECURITY).encode(_payload())
    head, _, sig = genuine.split(".")
    elevated = _b64(json.dumps(_payload(role="admin")).encode())
    assert "signature" in _reject(f"{head}.{elevated}.{sig}")
    for junk in ("", "a.b", "a.b.c.d", "!!.??.**", genuine + "x"):
        _reject(junk)


@pytest.mark.parametrize(
    ("changes", "reason", "code"),
    [
        ({"iss": "someone-else"}, "issuer", "invalid_token"),
        ({"aud": "another-api"}, "audience", "invalid_token"),
        ({"aud": None}, "audience", "invalid_token"),
        ({"exp": int(time.time()) - 3600}, "expired", "token_expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet", "invalid_token"),
        ({"iat": int(time.time()) + 3600}, "not valid yet", "invalid_token"),
        ({"exp": None}, "exp", "invalid_token"),
        ({"exp": "tomorrow"}, "exp", "invalid_token"),
        ({"jti": None}, "jti", "invalid_token"),
        ({"sub": None}, "subject", "invalid_token"),
        ({"role": "operator"}, "role", "invalid_token"),
        ({"wid": "not-a-uuid"}, "workspace", "invalid_token"),
    ],
)
def test_claims_are_checked(changes: dict[str, object], reason: str, code: str) -> None:
    token = TokenCodec(SECURITY).encode(_payload(**changes))
    assert reason in _reject(token, code=code)


def test_audience_list_and_clock_leeway_are_accepted() -> None:
    codec = TokenCodec(SECURITY)
    assert codec.decode(codec.encode(_payload(aud=["x", "utp-api"]))).sub == "RcUser1"
    # Ten seconds past expiry is within the 30 s skew allowance between replicas.
    assert codec.decode(codec.encode(_payload(exp=int(time.time()) - 10)))


async def test_api_accepts_user_tokens_and_refuses_bad_ones(env: Env) -> None:
    acme = await env.tenant("acme")
    alice = env.rc.add_user("Alice00001")
    token = await env.login(acme, alice)
    ok = await env.client.post(
        "/api/v1/translate", json={"text": "Hello", "target_lang": "es"}, headers=bearer(token)
    )
    assert ok.status_code == 200, ok.text

    codec = env.identity.codec
    claims = codec.decode(token)
    expired = codec.issue(
        sub=claims.sub,
        workspace_id=claims.workspace_id,
        user_pk=claims.user_pk,
        role="user",
        now=time.time() - 3600,
    )
    for bad, code in [
        (expired.token, "token_expired"),
        (codec.encode(_payload(), header={"alg": "none"}), "invalid_token"),
        (TokenCodec(SECURITY).encode(_payload()), "invalid_token"),  # another secret
        (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "invalid_token"),
    ]:
        response = await env.client.post(
            "/api/v1/translate", json={"text": "Hello", "target_lang": "es"}, headers=bearer(bad)
        )
        assert response.status_code == 401, response.text
        assert error_code(response) == code
        assert response.headers["www-authenticate"] == "Bearer"
    # A syntactically valid token for a user that does not exist in that workspace.
    ghost = codec.issue(sub="Ghost", workspace_id=acme.id, user_pk=uuid.uuid4(), role="admin")
    refused = await env.client.get("/api/v1/me/preferences", headers=bearer(ghost.token))
    assert refused.status_code == 401


async def test_revoked_tokens_are_refused_everywhere(env: Env) -> None:
    acme = await env.tenant("acme")
    alice = env.rc.add_user("Alice00001")
    mine, other = await env.login(acme, alice), await env.login(acme, alice)
    assert (await env.client.get("/api/v1/me", headers=bearer(mine))).status_code == 200

    revoked = await env.client.post("/api/v1/auth/revoke", json={}, headers=bearer(mine))
    assert revoked.status_code == 201 and revoked.json()["revoked"] is True
    for path in ("/api/v1/me", "/api/v1/me/preferences", "/api/v1/languages"):
        response = await env.client.get(path, headers=bearer(mine))
        assert response.status_code == 401 and error_code(response) == "token_revoked"
    # Her other session is unaffected.
    assert (await env.client.get("/api/v1/me", headers=bearer(other))).status_code == 200

    # The denylist is in the database, consulted by a fresh verifier too (other replicas).
    from service.accounts.tokens import TokenVerifier

    fresh = TokenVerifier(env.identity.codec, services_of(env.client.app).sessions, cache_seconds=0)
    with pytest.raises(Unauthorized) as caught:
        await fresh.verify(mine)
    assert caught.value.code == "token_revoked"
    await fresh.verify(other)

    # An admin key may revoke a user's token; another user may not.
    bob = env.rc.add_user("Bob0000001")
    bobs = await env.login(acme, bob)
    nope = await env.client.post("/api/v1/auth/revoke", json={"token": other}, headers=bearer(bobs))
    assert nope.status_code == 403
    # An API key has no token of its own: it names the one to revoke.
    nothing = await env.client.post("/api/v1/auth/revoke", json={}, headers=acme.admin)
    assert nothing.status_code == 401 and error_code(nothing) == "missing_token"
    yes = await env.client.post("/api/v1/auth/revoke", json={"token": other}, headers=acme.admin)
    assert yes.status_code == 201
    assert (await env.client.get("/api/v1/me", headers=bearer(other))).status_code == 401
    # An admin key of another workspace cannot even see it.
    globex = await env.tenant("globex")
    foreign = await env.client.post(
        "/api/v1/auth/revoke", json={"token": bobs}, headers=globex.admin
    )
    assert foreign.status_code == 404
    assert (await env.client.get("/api/v1/me", headers=bearer(bobs))).status_code == 200
