"""Issue 24, items 2-3: tenant-configured URLs (provider base_url, rocketchat_url) cannot make
the server reach loopback, private or metadata addresses in production, however the address is
spelt or whatever a name resolves to; and what answers at such a URL is never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from service.container import services_of
from service.db.models import WorkspaceSettings
from service.errors import ValidationFailed
from service.netpolicy import OutboundPolicy
from service.outbound import OutboundClient, OutboundInvalidURL
from tests.security.conftest import BANNER, Internal, production_settings
from tests.service.usage.conftest import Starter

PRODUCTION = OutboundPolicy.build(production=True, allow_http=False, allowed_networks=())

INWARD = [
    "https://0x7f000001:9443",
    "https://127.1",
    "https://2130706433",
    "https://0177.0.0.1",
    "https://127.0.0.1:9103/x",
    "https://[::1]:9443",
    "https://[::ffff:127.0.0.1]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.5",
    "https://100.64.0.1",
    "https://224.0.0.1",
    "https://0.0.0.0",
    "https://localhost:8000",
    "http://api.example.com",  # production takes https only
    "file:///etc/passwd",
    "gopher://example.com",
]


@pytest.mark.parametrize("url", INWARD)
def test_stored_urls_that_lead_inward_are_refused_in_production(url: str) -> None:
    with pytest.raises(ValidationFailed):
        PRODUCTION.check_url(url, "base_url")


def test_public_urls_and_operator_allowed_networks_pass() -> None:
    assert PRODUCTION.check_url("https://api.example.com/", "base_url") == "https://api.example.com"
    on_prem = OutboundPolicy.build(
        production=True, allow_http=True, allowed_networks=("10.0.4.0/24",)
    )
    assert on_prem.check_url("http://10.0.4.7:3000", "rocketchat_url") == "http://10.0.4.7:3000"
    with pytest.raises(ValidationFailed):
        on_prem.check_url("http://10.0.5.7:3000", "rocketchat_url")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]"]
)
async def test_the_connect_time_check_refuses_whatever_leads_to_loopback(
    internal: Internal, host: str
) -> None:
    async with OutboundClient(5, policy=PRODUCTION, environ_proxies={}) as client:
        with pytest.raises(OutboundInvalidURL):  # OutboundRefused, or aiohttp refusing the spelling
            await client.request("GET", f"http://{host}:{internal.port}/admin")
    assert internal.hits == []
    allowed = OutboundPolicy.build(
        production=True, allow_http=True, allowed_networks=("127.0.0.0/8",)
    )
    async with OutboundClient(5, policy=allowed, environ_proxies={}) as client:
        response = await client.request("GET", f"{internal.url}/admin")
    assert response.status_code == 400 and internal.hits == ["GET /admin"]


@pytest.mark.postgres
async def test_production_api_refuses_inward_urls_for_providers_and_rocketchat(
    start: Starter, postgres_url: str, tmp_path: Path, internal: Internal
) -> None:
    app = await start(production_settings(tmp_path, postgres_url))
    for url in ("https://0x7f000001:9443", "https://127.1", f"{internal.url}/x"):
        answer = await app.client.put(
            "/api/v1/providers/deepl",
            json={"api_key": "k" * 20, "base_url": url},
            headers=app.headers,
        )
        assert answer.status_code == 422, (url, answer.text)
    for url in ("http://169.254.169.254", f"{internal.url}/x", "https://2130706433"):
        answer = await app.client.put(
            "/api/v1/workspaces/current/settings",
            json={"rocketchat_url": url},
            headers=app.headers,
        )
        assert answer.status_code == 422, (url, answer.text)
    assert internal.hits == []


@pytest.mark.postgres
async def test_a_stored_url_that_now_leads_inward_is_refused_when_connecting(
    start: Starter, postgres_url: str, tmp_path: Path, internal: Internal
) -> None:
    """A URL stored before these checks (or a name that resolved publicly when stored): the
    exchange refuses it at connect time, sends nothing, and says why without echoing."""
    app = await start(production_settings(tmp_path, postgres_url))
    async with services_of(app.litestar).sessions.begin() as session:
        await session.execute(
            sa.insert(WorkspaceSettings).values(
                workspace_id=app.workspace_id, rocketchat_url=internal.url
            )
        )
    answer = await app.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": "u1", "auth_token": "t" * 20},
        headers=app.headers,
    )
    assert answer.status_code == 503, answer.text
    assert "outbound policy" in answer.json()["error"]["message"]
    assert internal.hits == []


async def test_the_token_exchange_never_echoes_what_answers_at_the_url(
    start: Starter, internal: Internal
) -> None:
    app = await start()  # development: loopback is allowed, the echo must still not happen
    configured = await app.client.put(
        "/api/v1/workspaces/current/settings",
        json={"rocketchat_url": internal.url},
        headers=app.headers,
    )
    assert configured.status_code == 200, configured.text
    answer = await app.client.post(
        "/api/v1/auth/rocketchat",
        json={"user_id": "u1", "auth_token": "t" * 20},
        headers=app.headers,
    )
    assert answer.status_code == 503, answer.text
    assert BANNER not in answer.text and "secret-banner" not in answer.text
    status = await app.client.get("/api/v1/integrations/rocketchat/status", headers=app.headers)
    assert BANNER not in status.text


@pytest.mark.parametrize("bad", ["u1\r\nX-Injected: 1", "u1\x00", "u1\nx"])
async def test_control_characters_in_exchange_credentials_are_a_4xx(
    start: Starter, internal: Internal, bad: str
) -> None:
    app = await start()
    await app.client.put(
        "/api/v1/workspaces/current/settings",
        json={"rocketchat_url": internal.url},
        headers=app.headers,
    )
    for body in ({"user_id": bad, "auth_token": "t" * 20}, {"user_id": "u1", "auth_token": bad}):
        answer = await app.client.post("/api/v1/auth/rocketchat", json=body, headers=app.headers)
        assert 400 <= answer.status_code < 500, answer.text
    assert internal.hits == []


async def test_through_the_operators_proxy_the_target_is_still_checked(
    internal: Internal,
) -> None:
    """The operator's proxy (here on loopback, named by host) is trusted to connect to; the
    tenant's target behind it is checked before anything is sent."""
    proxies = {"http": f"http://localhost:{internal.port}"}
    policy = OutboundPolicy.build(
        production=True, allow_http=True, allowed_networks=("127.0.0.2/32",)
    )
    async with OutboundClient(5, policy=policy, environ_proxies=proxies) as client:
        with pytest.raises(OutboundInvalidURL):
            await client.request("GET", "http://localhost:9/admin")
        assert internal.hits == []
        response = await client.request("GET", "http://127.0.0.2:9/allowed")
    assert response.status_code == 400  # the "proxy" answered
    assert len(internal.hits) == 1 and internal.hits[0].endswith("/allowed")
