"""Token providers, claims helpers and redaction, with MSAL talking to a fake identity provider.

MSAL's ``http_client`` is a fake requests.Session that serves OpenID discovery, instance
discovery, the token endpoint and the device-code endpoint, records every request, and refuses
anything else; sockets are blocked too, so nothing here can reach login.microsoftonline.com.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
import pytest

from mca_core.auth import providers as auth
from mca_core.auth.providers import (
    PC_SCOPE_APP,
    PC_SCOPE_USER,
    MsalAppOnlyProvider,
    MsalAppUserProvider,
    SandboxTokenProvider,
    SecretRedactingFilter,
    StaticTokenProvider,
    TokenProvider,
    identity_from_claims,
    read_claims,
    redact,
    require_mfa,
    token_kind,
)
from mca_core.domain.errors import AuthenticationError, ConfigurationError, MfaRequired
from mca_core.domain.models import PartnerType, Role, TokenKind

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "s3cr3t-Client-Value~42"
REFRESH_TOKEN = "0.AAAA-stored-refresh-token-value"
HOST = "login.microsoftonline.com"
AUTHORITY = f"https://{HOST}/{TENANT}"
TOKEN_URL = f"{AUTHORITY}/oauth2/v2.0/token"
DEVICE_URL = f"{AUTHORITY}/oauth2/v2.0/devicecode"
OPENID_URL = f"{AUTHORITY}/v2.0/.well-known/openid-configuration"
INSTANCE_URL = f"https://{HOST}/common/discovery/instance"
ALLOWED_URLS = {TOKEN_URL, DEVICE_URL, OPENID_URL, INSTANCE_URL}

ADMIN_GROUP = "0a0a0a0a-0000-0000-0000-00000000000a"
SALES_GROUP = "0b0b0b0b-0000-0000-0000-00000000000b"
HELPDESK_GROUP = "0c0c0c0c-0000-0000-0000-00000000000c"
GROUP_ROLES = {
    ADMIN_GROUP: Role.ADMIN_AGENT,
    SALES_GROUP: Role.SALES_AGENT,
    HELPDESK_GROUP: Role.HELPDESK_AGENT,
}

_KEY = "test-signing-key-of-at-least-32-bytes!"


def make_jwt(**claims: Any) -> str:
    """A JWT signed with a throwaway HS256 key (the desk never verifies signatures)."""
    now = int(time.time())
    payload: dict[str, Any] = {"iat": now, "nbf": now, "exp": now + 3600, "tid": TENANT}
    payload.update(claims)
    return jwt.encode(payload, _KEY, algorithm="HS256")


def user_token(*, mfa: bool = True, **claims: Any) -> str:
    base: dict[str, Any] = {
        "aud": "https://api.partnercenter.microsoft.com",
        "oid": "user-oid-1",
        "upn": "ada@partner.example",
        "name": "Ada Agent",
        "scp": "user_impersonation",
        "amr": ["pwd", "mfa"] if mfa else ["pwd"],
    }
    base.update(claims)
    return make_jwt(**base)


def app_token(**claims: Any) -> str:
    base: dict[str, Any] = {
        "aud": "https://api.partnercenter.microsoft.com",
        "oid": "sp-oid-1",
        "appid": CLIENT_ID,
        "idtyp": "app",
        "roles": [],
    }
    base.update(claims)
    return make_jwt(**base)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def user_token_response(access_token: str, *, refresh_token: str = "rt-rotated") -> dict[str, Any]:
    """What the token endpoint answers for an App+User grant (with an account for MSAL)."""
    id_token = make_jwt(
        iss=f"https://{HOST}/{TENANT}/v2.0",
        aud=CLIENT_ID,
        sub="user-sub-1",
        oid="user-oid-1",
        preferred_username="ada@partner.example",
        name="Ada Agent",
        groups=[SALES_GROUP],
    )
    return {
        "token_type": "Bearer",
        "scope": PC_SCOPE_USER,
        "expires_in": 3600,
        "ext_expires_in": 3600,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "id_token": id_token,
        "client_info": _b64({"uid": "user-oid-1", "utid": TENANT}),
    }


# --------------------------------------------------------------------------------------------
# The fake identity provider (a requests.Session look-alike for MSAL's http_client=)
# --------------------------------------------------------------------------------------------


@dataclass
class FakeResponse:
    status_code: int
    payload: Any
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    @property
    def text(self) -> str:
        return json.dumps(self.payload)

    def json(self) -> Any:
        return self.payload

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


@dataclass
class Recorded:
    method: str
    url: str
    params: dict[str, Any] | None
    data: dict[str, Any]


class FakeIdentityProvider:
    """Serves Entra ID's discovery, token and device-code endpoints from queued answers."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.token_answers: list[tuple[int, dict[str, Any]]] = []
        self.device_answers: list[tuple[int, dict[str, Any]]] = []

    # test helpers
    def answer_token(self, payload: dict[str, Any], status: int = 200) -> None:
        self.token_answers.append((status, payload))

    def answer_device_code(self, payload: dict[str, Any], status: int = 200) -> None:
        self.device_answers.append((status, payload))

    def posts_to(self, url: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.url == url]

    def assert_only_known_endpoints(self) -> None:
        unexpected = [r.url for r in self.requests if r.url not in ALLOWED_URLS]
        assert not unexpected, f"requests went elsewhere: {unexpected}"
        assert all(urlparse(r.url).hostname == HOST for r in self.requests)

    # the requests.Session surface MSAL uses
    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> FakeResponse:
        self.requests.append(Recorded("GET", url, params, {}))
        if url == OPENID_URL:
            return FakeResponse(
                200,
                {
                    "issuer": f"https://{HOST}/{TENANT}/v2.0",
                    "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                    "token_endpoint": TOKEN_URL,
                    "device_authorization_endpoint": DEVICE_URL,
                },
            )
        if url == INSTANCE_URL:
            return FakeResponse(
                200,
                {
                    "tenant_discovery_endpoint": OPENID_URL,
                    "metadata": [{"preferred_network": HOST, "aliases": [HOST]}],
                },
            )
        return FakeResponse(404, {"error": "not_found"})

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any
    ) -> FakeResponse:
        self.requests.append(Recorded("POST", url, params, dict(data or {})))
        if url == TOKEN_URL and self.token_answers:
            status, payload = self.token_answers.pop(0)
            return FakeResponse(status, payload)
        if url == DEVICE_URL and self.device_answers:
            status, payload = self.device_answers.pop(0)
            return FakeResponse(status, payload)
        return FakeResponse(400, {"error": "unexpected_request", "error_description": url})

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real connection attempt fails loudly (MockTransport and the fake IdP need none)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a test tried to open a network connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    fake = FakeIdentityProvider()
    yield fake
    fake.assert_only_known_endpoints()


# --------------------------------------------------------------------------------------------
# App-only (client credentials)
# --------------------------------------------------------------------------------------------


async def test_app_only_token_is_acquired_once_and_cached(idp: FakeIdentityProvider) -> None:
    token = app_token()
    idp.answer_token({"token_type": "Bearer", "expires_in": 3599, "access_token": token})
    provider = MsalAppOnlyProvider(TENANT, CLIENT_ID, SECRET, http_client=idp)
    assert isinstance(provider, TokenProvider)
    assert provider.kind is TokenKind.APP_ONLY
    assert idp.requests == []  # the MSAL app (and its discovery call) is built lazily

    assert await provider.get_token() == token
    assert await provider.get_token() == token

    posts = idp.posts_to(TOKEN_URL)
    assert len(posts) == 1
    assert posts[0].data["grant_type"] == "client_credentials"
    assert PC_SCOPE_APP in posts[0].data["scope"]
    assert provider.claims is not None and provider.claims["idtyp"] == "app"


async def test_app_only_token_close_to_expiry_is_replaced(idp: FakeIdentityProvider) -> None:
    first, second = app_token(jti="1"), app_token(jti="2")
    idp.answer_token({"token_type": "Bearer", "expires_in": 120, "access_token": first})
    idp.answer_token({"token_type": "Bearer", "expires_in": 3599, "access_token": second})
    provider = MsalAppOnlyProvider(TENANT, CLIENT_ID, SECRET, http_client=idp)

    assert await provider.get_token() == first  # valid for 2 min: inside the 5-min margin
    assert await provider.get_token() == second
    assert await provider.get_token() == second
    assert len(idp.posts_to(TOKEN_URL)) == 2


async def test_concurrent_callers_share_one_acquisition(idp: FakeIdentityProvider) -> None:
    import asyncio

    token = app_token()
    idp.answer_token({"token_type": "Bearer", "expires_in": 3599, "access_token": token})
    provider = MsalAppOnlyProvider(TENANT, CLIENT_ID, SECRET, http_client=idp)

    tokens = await asyncio.gather(*(provider.get_token() for _ in range(5)))
    assert tokens == [token] * 5
    assert len(idp.posts_to(TOKEN_URL)) == 1


async def test_msal_error_dict_becomes_authentication_error_without_secret(
    idp: FakeIdentityProvider,
) -> None:
    idp.answer_token(
        {
            "error": "invalid_client",
            "error_description": (
                f"AADSTS7000215: Invalid client secret provided ({SECRET}).\r\n"
                "Trace ID: 0000\r\nCorrelation ID: corr-123\r\nTimestamp: 2025-01-01"
            ),
            "error_codes": [7000215],
            "correlation_id": "corr-123",
        },
        status=401,
    )
    provider = MsalAppOnlyProvider(TENANT, CLIENT_ID, SECRET, http_client=idp)

    with pytest.raises(AuthenticationError) as caught:
        await provider.get_token()

    err = caught.value
    assert err.error == "invalid_client"
    assert err.correlation_id == "corr-123"
    message = str(err)
    assert "AADSTS7000215: Invalid client secret provided" in message
    assert SECRET not in message
    assert "Trace ID" not in message  # first line only
    assert SECRET not in repr(provider)


async def test_bad_tenant_discovery_failure_becomes_authentication_error() -> None:
    class NoSuchTenant(FakeIdentityProvider):
        def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> FakeResponse:
            self.requests.append(Recorded("GET", url, params, {}))
            return FakeResponse(400, {"error": "invalid_tenant"})

    fake = NoSuchTenant()
    provider = MsalAppOnlyProvider(TENANT, CLIENT_ID, SECRET, http_client=fake)
    with pytest.raises(AuthenticationError) as caught:
        await provider.get_token()
    assert SECRET not in str(caught.value)
    fake.assert_only_known_endpoints()


def test_app_only_needs_a_secret() -> None:
    with pytest.raises(ConfigurationError):
        MsalAppOnlyProvider(TENANT, CLIENT_ID, "")


# --------------------------------------------------------------------------------------------
# App+User: refresh token (secure application model) and device code
# --------------------------------------------------------------------------------------------


async def test_refresh_token_path(idp: FakeIdentityProvider) -> None:
    token = user_token()
    idp.answer_token(user_token_response(token))
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, client_secret=SECRET, refresh_token=REFRESH_TOKEN, http_client=idp
    )
    assert provider.kind is TokenKind.APP_USER
    assert provider.mode == "refresh_token"

    assert await provider.get_token() == token
    assert await provider.get_token() == token

    (post,) = idp.posts_to(TOKEN_URL)
    assert post.data["grant_type"] == "refresh_token"
    assert post.data["refresh_token"] == REFRESH_TOKEN
    assert PC_SCOPE_USER in post.data["scope"]
    assert post.data["client_secret"] == SECRET  # confidential client
    assert provider.id_token_claims is not None
    assert provider.id_token_claims["groups"] == [SALES_GROUP]
    assert REFRESH_TOKEN not in repr(provider)


async def test_refresh_token_later_calls_try_msal_cache_first(idp: FakeIdentityProvider) -> None:
    token = user_token()
    idp.answer_token(user_token_response(token))
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, client_secret=SECRET, refresh_token=REFRESH_TOKEN, http_client=idp
    )
    assert await provider.get_token() == token
    provider.invalidate()
    assert await provider.get_token() == token  # acquire_token_silent: MSAL's cache
    assert len(idp.posts_to(TOKEN_URL)) == 1


async def test_refresh_token_error_hides_the_refresh_token(idp: FakeIdentityProvider) -> None:
    idp.answer_token(
        {
            "error": "invalid_grant",
            "error_description": f"AADSTS70008: The refresh token {REFRESH_TOKEN} has expired.\r\n"
            "Trace ID: x",
            "correlation_id": "corr-rt",
        },
        status=400,
    )
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, client_secret=SECRET, refresh_token=REFRESH_TOKEN, http_client=idp
    )
    with pytest.raises(AuthenticationError) as caught:
        await provider.get_token()
    assert caught.value.error == "invalid_grant"
    assert REFRESH_TOKEN not in str(caught.value)
    assert "AADSTS70008" in str(caught.value)


def _device_code_answer(**extra: Any) -> dict[str, Any]:
    answer = {
        "user_code": "ABCD-EFGH",
        "device_code": "device-code-secret",
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900,
        "interval": 5,
        "message": "To sign in, open https://microsoft.com/devicelogin and enter ABCD-EFGH.",
    }
    answer.update(extra)
    return answer


async def test_device_flow_calls_the_prompt_with_the_message(idp: FakeIdentityProvider) -> None:
    token = user_token()
    idp.answer_device_code(_device_code_answer())
    idp.answer_token(user_token_response(token))
    prompts: list[str] = []
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, device_code_prompt=prompts.append, http_client=idp
    )
    assert provider.mode == "device_code"

    assert await provider.get_token() == token
    assert prompts == [_device_code_answer()["message"]]

    (device_post,) = idp.posts_to(DEVICE_URL)
    assert PC_SCOPE_USER in device_post.data["scope"]
    (token_post,) = idp.posts_to(TOKEN_URL)
    assert token_post.data["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert "client_secret" not in token_post.data  # public client

    # Later: MSAL's cache answers silently; no second prompt, no second device code.
    provider.invalidate()
    assert await provider.get_token() == token
    assert len(prompts) == 1
    assert len(idp.posts_to(DEVICE_URL)) == 1
    assert len(idp.posts_to(TOKEN_URL)) == 1


@pytest.mark.filterwarnings("ignore:Attempted too soon")  # the test skips the real wait
async def test_device_flow_waits_while_authorization_is_pending(
    idp: FakeIdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(auth, "_sleep", no_wait)
    token = user_token()
    idp.answer_device_code(_device_code_answer(interval=3))
    idp.answer_token({"error": "authorization_pending", "error_description": "pending"}, 400)
    idp.answer_token(user_token_response(token))
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, device_code_prompt=lambda _m: None, http_client=idp
    )

    assert await provider.get_token() == token
    assert waits == [3.0]
    assert len(idp.posts_to(TOKEN_URL)) == 2


async def test_device_flow_error_becomes_authentication_error(idp: FakeIdentityProvider) -> None:
    idp.answer_device_code(_device_code_answer())
    idp.answer_token(
        {
            "error": "authorization_declined",
            "error_description": "AADSTS70000: The user declined.\r\nTrace ID: y",
        },
        400,
    )
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, device_code_prompt=lambda _m: None, http_client=idp
    )
    with pytest.raises(AuthenticationError) as caught:
        await provider.get_token()
    assert caught.value.error == "authorization_declined"
    assert "device-code-secret" not in str(caught.value)


async def test_app_user_token_without_mfa_is_refused(idp: FakeIdentityProvider) -> None:
    idp.answer_device_code(_device_code_answer())
    idp.answer_token(user_token_response(user_token(mfa=False)))
    provider = MsalAppUserProvider(
        TENANT, CLIENT_ID, device_code_prompt=lambda _m: None, http_client=idp
    )
    with pytest.raises(MfaRequired) as caught:
        await provider.get_token()
    assert caught.value.status is None
    assert "mfa" in str(caught.value).lower()
    assert provider.claims is None  # nothing cached


# --------------------------------------------------------------------------------------------
# Static (pre-acquired) tokens
# --------------------------------------------------------------------------------------------


async def test_static_non_jwt_passes_through() -> None:
    provider = StaticTokenProvider("opaque-token-value")
    assert provider.kind is TokenKind.APP_USER
    assert provider.claims is None
    assert await provider.get_token() == "opaque-token-value"


async def test_static_app_only_jwt_kind() -> None:
    token = app_token()
    provider = StaticTokenProvider(token)
    assert provider.kind is TokenKind.APP_ONLY
    assert provider.claims is not None and provider.claims["appid"] == CLIENT_ID
    assert await provider.get_token() == token


async def test_static_app_user_jwt_with_mfa_and_bearer_prefix() -> None:
    token = user_token()
    provider = StaticTokenProvider(f"Bearer {token}")
    assert provider.kind is TokenKind.APP_USER
    assert await provider.get_token() == token


def test_static_app_user_jwt_without_mfa_is_refused() -> None:
    with pytest.raises(MfaRequired) as caught:
        StaticTokenProvider(user_token(mfa=False))
    assert caught.value.status is None


async def test_static_expired_jwt_fails_locally() -> None:
    provider = StaticTokenProvider(app_token(exp=int(time.time()) - 60))
    with pytest.raises(AuthenticationError):
        await provider.get_token()


async def test_static_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCA_ACCESS_TOKEN", "opaque-from-env")
    assert await StaticTokenProvider.from_env().get_token() == "opaque-from-env"
    monkeypatch.delenv("MCA_ACCESS_TOKEN")
    with pytest.raises(ConfigurationError, match="MCA_ACCESS_TOKEN"):
        StaticTokenProvider.from_env()


# --------------------------------------------------------------------------------------------
# Sandbox
# --------------------------------------------------------------------------------------------


async def test_sandbox_in_process_issue_is_cached() -> None:
    calls: list[tuple[str, TokenKind]] = []

    def issue_token(user_key: str, kind: TokenKind = TokenKind.APP_USER) -> str:
        calls.append((user_key, kind))
        return user_token(oid=f"oid-{user_key}")

    provider = SandboxTokenProvider("admin", issue=issue_token)
    first = await provider.get_token()
    assert await provider.get_token() == first
    assert calls == [("admin", TokenKind.APP_USER)]
    assert provider.claims is not None and provider.claims["oid"] == "oid-admin"


async def test_sandbox_in_process_mfa_rule_and_opt_out() -> None:
    def issue_token(user_key: str, kind: TokenKind = TokenKind.APP_USER) -> str:
        return user_token(mfa=False)

    with pytest.raises(MfaRequired):
        await SandboxTokenProvider("no-mfa", issue=issue_token).get_token()
    unchecked = SandboxTokenProvider("no-mfa", issue=issue_token, check_mfa=False)
    assert await unchecked.get_token()


def _sandbox_transport(
    seen: list[httpx.Request], answer: Callable[[httpx.Request], httpx.Response]
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return httpx.MockTransport(handler)


async def test_sandbox_over_http() -> None:
    seen: list[httpx.Request] = []
    token = app_token()
    transport = _sandbox_transport(
        seen, lambda _r: httpx.Response(200, json={"access_token": token, "expires_in": 3600})
    )
    async with httpx.AsyncClient(transport=transport) as http:
        provider = SandboxTokenProvider(
            "app", base_url="http://sandbox.test/", http=http, kind=TokenKind.APP_ONLY
        )
        assert provider.kind is TokenKind.APP_ONLY
        assert await provider.get_token() == token
        assert await provider.get_token() == token

    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "http://sandbox.test/sandbox/token"
    assert json.loads(request.content) == {"user": "app", "kind": "app_only"}


async def test_sandbox_over_http_error() -> None:
    seen: list[httpx.Request] = []
    transport = _sandbox_transport(
        seen,
        lambda _r: httpx.Response(
            404, json={"error": "unknown_user", "error_description": "No seeded user 'zed'."}
        ),
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        provider = SandboxTokenProvider("zed", http=http)
        with pytest.raises(AuthenticationError) as caught:
            await provider.get_token()
    assert caught.value.error == "unknown_user"
    assert "No seeded user" in str(caught.value)
    assert str(seen[0].url) == "http://sandbox.test/sandbox/token"


def test_sandbox_needs_a_source() -> None:
    with pytest.raises(ConfigurationError):
        SandboxTokenProvider("admin")


# --------------------------------------------------------------------------------------------
# Claims helpers
# --------------------------------------------------------------------------------------------


def test_read_claims_and_token_kind() -> None:
    assert read_claims("not a jwt") is None
    assert read_claims("a.b.c") is None
    assert read_claims("") is None
    claims = read_claims(user_token())
    assert claims is not None and claims["upn"] == "ada@partner.example"
    assert token_kind(claims) is TokenKind.APP_USER
    assert token_kind(read_claims(app_token())) is TokenKind.APP_ONLY
    assert token_kind({"oid": "x", "appid": "y"}) is TokenKind.APP_ONLY  # no scp, no user claims
    assert token_kind(None) is TokenKind.APP_USER


def test_require_mfa() -> None:
    require_mfa(read_claims(user_token()))
    require_mfa(read_claims(app_token()))  # MFA does not apply to app-only
    require_mfa(None)  # unreadable: the service judges
    require_mfa({"scp": "user_impersonation", "amr": "mfa"})
    with pytest.raises(MfaRequired):
        require_mfa({"scp": "user_impersonation", "amr": ["pwd"]})


def test_identity_from_claims_takes_the_highest_role() -> None:
    claims = read_claims(user_token(groups=[HELPDESK_GROUP, ADMIN_GROUP.upper(), "other"]))
    identity = identity_from_claims(
        claims, group_roles=GROUP_ROLES, partner_type=PartnerType.INDIRECT_PROVIDER
    )
    assert identity.role is Role.ADMIN_AGENT
    assert identity.role_known
    assert identity.user_id == "user-oid-1"
    assert identity.display_name == "Ada Agent"
    assert identity.email == "ada@partner.example"
    assert identity.partner_tenant_id == TENANT
    assert identity.partner_type is PartnerType.INDIRECT_PROVIDER

    sales = identity_from_claims(
        {"oid": "u", "groups": [SALES_GROUP, HELPDESK_GROUP]},
        group_roles=GROUP_ROLES,
        partner_type=PartnerType.DIRECT_BILL,
        partner_tenant_id="explicit-tenant",
    )
    assert sales.role is Role.SALES_AGENT
    assert sales.partner_tenant_id == "explicit-tenant"

    nobody = identity_from_claims(
        {"oid": "u", "groups": ["unmapped"]},
        group_roles=GROUP_ROLES,
        partner_type=PartnerType.DIRECT_BILL,
    )
    assert nobody.role is Role.NONE and nobody.role_known


def test_identity_role_unknown_without_groups_claim_or_jwt() -> None:
    no_groups = identity_from_claims(
        read_claims(user_token()), group_roles=GROUP_ROLES, partner_type=PartnerType.DIRECT_BILL
    )
    assert no_groups.role is Role.NONE
    assert not no_groups.role_known

    reseller = identity_from_claims(
        read_claims("opaque"),
        group_roles=GROUP_ROLES,
        partner_type=PartnerType.INDIRECT_RESELLER,
        partner_name="Reseller Ltd",
        provider_tenant_id="provider-tenant",
        provider_name="Provider Inc",
    )
    assert reseller.role is Role.NONE
    assert not reseller.role_known
    assert reseller.provider_tenant_id == "provider-tenant"
    assert reseller.partner_name == "Reseller Ltd"


# --------------------------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------------------------


def test_redact() -> None:
    token = user_token()
    text = (
        f"Authorization: Bearer {token} raw={token} client_secret={SECRET}&scope=x "
        f'{{"password": "hunter 2", "refresh_token": "{REFRESH_TOKEN}", "token_type": "Bearer"}} '
        "password=pa55word; MCA_ACCESS_TOKEN=opaque123"
    )
    out = redact(text)
    for secret in (token, SECRET, "hunter 2", REFRESH_TOKEN, "pa55word", "opaque123", "eyJ"):
        assert secret not in out
    assert "Bearer [redacted]" in out
    assert "client_secret=[redacted]&scope=x" in out
    assert '"password": "[redacted]"' in out
    assert '"token_type": "Bearer"' in out  # harmless fields survive
    assert redact("nothing to hide here") == "nothing to hide here"


def test_logging_filter_keeps_tokens_out_of_handler_output() -> None:
    token = user_token()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.auth.redaction")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    log.addFilter(SecretRedactingFilter())
    try:
        log.info("calling with token %s", token)
        log.warning("headers %r", {"Authorization": f"Bearer {token}"})
        log.debug(f"secret client_secret={SECRET}")
        try:
            raise RuntimeError(f"failed with {token}")
        except RuntimeError:
            log.exception("boom")
    finally:
        log.removeHandler(handler)

    output = stream.getvalue()
    assert token not in output
    assert SECRET not in output
    assert "calling with token [redacted]" in output
    assert output.count("[redacted]") >= 4
