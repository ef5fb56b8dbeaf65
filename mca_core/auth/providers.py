"""Token providers: where the desk's bearer tokens for Partner Center come from.

Every provider satisfies one small protocol, :class:`TokenProvider` (``kind`` and
``async get_token()``), so the Partner Center client never cares how a token was had.

Which provider for which situation:

* **Sandbox** (the embedded emulator, tests, demos): :class:`SandboxTokenProvider` asks the
  emulator for a token of one of its seeded users, in process or over HTTP. No Microsoft sign-in.
* **Live dashboard**: a person signs in through Streamlit's ``st.login`` (OIDC); that lives in the
  UI layer, not here. The resulting claims can still go through :func:`identity_from_claims`.
* **Scripts and one-off jobs**: :class:`StaticTokenProvider` with a token acquired elsewhere
  (``MCA_ACCESS_TOKEN``). The desk reads its claims when it can; otherwise the service judges.
* **Schedulers that attest** (the secure application model): :class:`MsalAppUserProvider` with a
  stored refresh token of an MFA-signed-in admin or sales agent and the app's secret.
* **Schedulers that only read or create customers**: :class:`MsalAppOnlyProvider`
  (client credentials). **App-only tokens cannot attest**, read agreement metadata or check direct
  acceptance: Partner Center demands App+User for every MCA call.
* **The CLI, by hand**: :class:`MsalAppUserProvider` without a refresh token runs the device-code
  sign-in (a code to type at https://microsoft.com/devicelogin).

App+User tokens must carry MFA (``"mfa"`` in ``amr``) or Partner Center answers 401 / 900421; the
providers check that claim locally and raise :class:`~mca_core.domain.errors.MfaRequired` first.

Tokens live in memory only, cached until about five minutes before they expire. Nothing here writes
a token, refresh token or secret to disk or to a log; :func:`redact` and
:class:`SecretRedactingFilter` help the rest of the project keep it that way. MSAL is synchronous,
so every MSAL call runs in a worker thread (``asyncio.to_thread``); MSAL's error dicts become
:class:`~mca_core.domain.errors.AuthenticationError` once, at this boundary.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx
import jwt
import msal

from mca_core.domain.errors import AuthenticationError, ConfigurationError, McaError, MfaRequired
from mca_core.domain.models import Identity, PartnerType, Role, TokenKind

__all__ = [
    "DEFAULT_AUTHORITY_HOST",
    "ENV_ACCESS_TOKEN",
    "PC_RESOURCE",
    "PC_SCOPE_APP",
    "PC_SCOPE_USER",
    "REFRESH_MARGIN_SECONDS",
    "MsalAppOnlyProvider",
    "MsalAppUserProvider",
    "SandboxTokenProvider",
    "SecretRedactingFilter",
    "StaticTokenProvider",
    "TokenProvider",
    "identity_from_claims",
    "read_claims",
    "redact",
    "require_mfa",
    "token_kind",
]

logger = logging.getLogger(__name__)

PC_RESOURCE = "https://api.partnercenter.microsoft.com"
PC_SCOPE_APP = PC_RESOURCE + "/.default"
PC_SCOPE_USER = PC_RESOURCE + "/user_impersonation"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
#: The environment variable the CLI and scripts read a pre-acquired token from.
ENV_ACCESS_TOKEN = "MCA_ACCESS_TOKEN"
#: A cached token is replaced this many seconds before it expires (clock skew, long calls).
REFRESH_MARGIN_SECONDS = 300
#: Lifetime assumed when neither the issuer nor the token says when it expires.
DEFAULT_LIFETIME_SECONDS = 3600

#: Claims only a token issued to a signed-in user carries.
_USER_CLAIMS = ("scp", "upn", "unique_name", "preferred_username", "given_name", "family_name")
#: When a user is in several mapped groups, the highest rank wins. The desk's Manager ranks
#: above Helpdesk (a Helpdesk agent in the managers group is a Manager) and below the agents who
#: may attest (an Admin or Sales agent who is also a manager keeps everything a manager may do).
_ROLE_RANK = {
    Role.ADMIN_AGENT: 4,
    Role.SALES_AGENT: 3,
    Role.MANAGER: 2,
    Role.HELPDESK_AGENT: 1,
    Role.NONE: 0,
}
_DEVICE_FLOW_PENDING = "authorization_pending"
_DEVICE_FLOW_SLOW_DOWN = "slow_down"
#: Indirection so tests can make the device-code polling wait instantly.
_sleep = asyncio.sleep


@runtime_checkable
class TokenProvider(Protocol):
    """What the Partner Center client needs: a token kind and a fresh bearer token on demand."""

    kind: TokenKind

    async def get_token(self) -> str:
        """A bearer token string, cached until about five minutes before it expires."""
        ...


# --------------------------------------------------------------------------------------------
# Claims helpers
# --------------------------------------------------------------------------------------------


def _strip_bearer(token: str) -> str:
    text = token.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    return text


def read_claims(token: str | None) -> dict[str, Any] | None:
    """The token's payload, NOT verified: for local decisions only (kind, MFA, role, expiry).

    Returns None when the token is not a readable JWT; then the service is the only judge.
    """
    if not token:
        return None
    text = _strip_bearer(token)
    if text.count(".") != 2:
        return None
    try:
        claims = jwt.decode(text, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def token_kind(claims: Mapping[str, Any] | None) -> TokenKind:
    """App-only or App+User, from the claims; an unreadable token counts as App+User."""
    if not claims:
        return TokenKind.APP_USER
    idtyp = str(claims.get("idtyp") or "").lower()
    if idtyp == "app":
        return TokenKind.APP_ONLY
    if idtyp == "user":
        return TokenKind.APP_USER
    if any(claims.get(name) for name in _USER_CLAIMS):
        return TokenKind.APP_USER
    return TokenKind.APP_ONLY


def _amr(claims: Mapping[str, Any]) -> list[str]:
    value = claims.get("amr") or []
    if isinstance(value, str):
        value = [value]
    return [str(v).lower() for v in value]


def require_mfa(claims: Mapping[str, Any] | None) -> None:
    """Raise MfaRequired for an App+User token without "mfa" in ``amr``.

    Partner Center would refuse it (401 / 900421); saying so before the call gives a clearer
    message. App-only tokens and unreadable tokens pass: MFA does not apply / the service judges.
    """
    if not claims or token_kind(claims) is TokenKind.APP_ONLY:
        return
    if "mfa" in _amr(claims):
        return
    who = claims.get("preferred_username") or claims.get("upn") or claims.get("unique_name")
    subject = f" for {who}" if who else ""
    raise MfaRequired(
        f"The App+User token{subject} carries no multi-factor authentication claim "
        "('mfa' is missing from 'amr'), so Partner Center would refuse it (900421). "
        "Sign in again with MFA (or make your tenant's Conditional Access require it).",
        status=None,
    )


def _claims_expiry(claims: Mapping[str, Any] | None) -> float | None:
    if not claims:
        return None
    exp = claims.get("exp")
    try:
        return float(exp) if exp is not None else None
    except (TypeError, ValueError):
        return None


def identity_from_claims(
    claims: Mapping[str, Any] | None,
    *,
    group_roles: Mapping[str, Role],
    partner_type: PartnerType,
    partner_tenant_id: str = "",
    partner_name: str = "",
    provider_tenant_id: str | None = None,
    provider_name: str | None = None,
) -> Identity:
    """Who is acting, from token claims plus configuration.

    The role comes from the ``groups`` claim (security-group object ids of the partner tenant)
    mapped through ``group_roles``; the highest of Admin > Sales > Manager > Helpdesk wins (the
    Manager is the desk's read-only role, ``[mca.roles] managers``). Without a
    ``groups`` claim (not emitted, group overage, or no readable token), or with no mapping
    configured, the role is unknown
    (``role_known=False``, Role.NONE): the local guard then lets Partner Center's 403 decide.
    """
    data: Mapping[str, Any] = claims or {}
    email = next(
        (
            str(data[name])
            for name in ("email", "preferred_username", "upn", "unique_name")
            if data.get(name) and "@" in str(data[name])
        ),
        "",
    )
    user_id = str(data.get("oid") or data.get("sub") or data.get("appid") or data.get("azp") or "")
    display_name = str(
        data.get("name")
        or email
        or data.get("app_displayname")
        or data.get("appid")
        or data.get("azp")
        or ("Unknown user (token not readable)" if claims is None else "Unknown user")
    )
    groups = data.get("groups")
    # Without a groups claim, or with no group mapping configured, the desk cannot know the role.
    role_known = groups is not None and bool(group_roles)
    role = Role.NONE
    if role_known:
        ids = [groups] if isinstance(groups, str) else list(groups)
        mapping = {str(k).strip().lower(): Role(v) for k, v in group_roles.items()}
        for group_id in ids:
            candidate = mapping.get(str(group_id).strip().lower(), Role.NONE)
            if _ROLE_RANK[candidate] > _ROLE_RANK[role]:
                role = candidate
    return Identity(
        user_id=user_id,
        display_name=display_name,
        email=email,
        role=role,
        partner_type=partner_type,
        partner_tenant_id=partner_tenant_id or str(data.get("tid") or ""),
        partner_name=partner_name,
        provider_tenant_id=provider_tenant_id,
        provider_name=provider_name,
        role_known=role_known,
    )


# --------------------------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------------------------

REDACTED = "[redacted]"

# key=value / "key": "value" pairs whose value is a secret (client_secret, refresh_token,
# MCA_ACCESS_TOKEN, password, ...). "token_type" or "token_endpoint" do not match.
_KEYED_SECRET = re.compile(
    r"""(?P<key>["']?\b\w*(?:secret|password|passwd|token|assertion)["']?\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s&,;"'}\])]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
_JWT_LIKE = re.compile(r"\beyJ[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*){0,4}")


def _redact_keyed(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{quote}{REDACTED}{quote}"


def redact(text: str) -> str:
    """The text with bearer tokens, JWTs, secrets and passwords replaced by ``[redacted]``.

    For anything that may reach a log, an error message or the screen.
    """
    if not text:
        return text
    text = _KEYED_SECRET.sub(_redact_keyed, text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _JWT_LIKE.sub(REDACTED, text)


class SecretRedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (msg and args) and the traceback.

    Attach it to the handlers (every record passing through is covered) or to a logger (only
    records logged on that very logger: filters are not inherited by child loggers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: redact the parts instead
            record.msg = redact(str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        else:
            record.msg = redact(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# --------------------------------------------------------------------------------------------
# MSAL error dicts -> AuthenticationError, once
# --------------------------------------------------------------------------------------------

_HINTS = {
    "invalid_client": "Check the app's client id and secret (the secret may have expired).",
    "unauthorized_client": "Check the app registration: it may not allow this sign-in flow.",
    "invalid_grant": "The refresh token or sign-in expired or was revoked: sign in again.",
    "interaction_required": "A person must sign in again (MFA or consent is required).",
    "consent_required": "An admin of the partner tenant must consent to the app.",
    "authorization_declined": "The sign-in was declined.",
    "expired_token": "The device code expired before sign-in finished: start again.",
    "bad_verification_code": "The device code was not recognized: start again.",
}


def _scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return redact(text)


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _error_from_msal(
    result: Mapping[str, Any] | None, *, action: str, secrets: Iterable[str | None] = ()
) -> AuthenticationError:
    """One MSAL error dict as our exception: first line of the description, no secrets."""
    result = result or {}
    error = str(result.get("error") or "unknown_error")
    description = _first_line(str(result.get("error_description") or "")) or error
    message = f"{action}: {description}"
    hint = _HINTS.get(error)
    if hint:
        message = f"{message} {hint}"
    correlation_id = result.get("correlation_id")
    return AuthenticationError(
        _scrub(message, secrets),
        error=error,
        correlation_id=str(correlation_id) if correlation_id else None,
    )


def _error_from_exception(
    exc: BaseException, *, action: str, secrets: Iterable[str | None] = ()
) -> AuthenticationError:
    """An exception MSAL raised (bad tenant, no network) as our exception."""
    detail = _first_line(str(exc)) or type(exc).__name__
    return AuthenticationError(_scrub(f"{action}: {detail}", secrets), error=type(exc).__name__)


# --------------------------------------------------------------------------------------------
# Caching base
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float
    claims: dict[str, Any] | None

    def fresh(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now < self.expires_at - REFRESH_MARGIN_SECONDS


def _token_from(
    access_token: str, expires_in: Any = None, claims: dict[str, Any] | None = None
) -> _Token:
    """Work out when a new token expires: the issuer's expires_in, else the JWT's exp."""
    now = time.time()
    expires_at: float | None = None
    if expires_in is not None:
        try:
            expires_at = now + float(expires_in)
        except (TypeError, ValueError):
            expires_at = None
    if expires_at is None:
        expires_at = _claims_expiry(claims)
    if expires_at is None:
        expires_at = now + DEFAULT_LIFETIME_SECONDS
    return _Token(access_token, expires_at, claims)


class _CachingProvider:
    """Shared caching: one in-memory token, one acquisition at a time per event loop."""

    kind: TokenKind

    def __init__(self) -> None:
        self._token: _Token | None = None
        # asyncio locks bind to one loop; Streamlit reruns may each bring a new loop.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def claims(self) -> dict[str, Any] | None:
        """Unverified claims of the current token (None before the first one, or not a JWT)."""
        return self._token.claims if self._token else None

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after a 401) so the next call acquires a new one."""
        self._token = None

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def get_token(self) -> str:
        """The cached token while fresh, else a new one (concurrent callers share it)."""
        cached = self._token
        if cached is not None and cached.fresh():
            return cached.value
        async with self._lock():
            cached = self._token
            if cached is not None and cached.fresh():
                return cached.value
            token = await self._acquire()
            self._token = token
            return token.value

    async def _acquire(self) -> _Token:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Static
# --------------------------------------------------------------------------------------------


class StaticTokenProvider:
    """A token acquired elsewhere (scripts: ``MCA_ACCESS_TOKEN``). Never refreshed.

    A readable JWT is checked locally (kind, MFA, expiry); anything else is passed through as
    App+User for Partner Center to judge.
    """

    def __init__(self, token: str) -> None:
        value = _strip_bearer(token or "")
        if not value:
            raise ConfigurationError("The access token is empty.")
        self._token = value
        self.claims: dict[str, Any] | None = read_claims(value)
        self.kind: TokenKind = token_kind(self.claims)
        require_mfa(self.claims)

    @classmethod
    def from_env(cls, variable: str = ENV_ACCESS_TOKEN) -> StaticTokenProvider:
        """Read the token from the environment (the CLI's ``MCA_ACCESS_TOKEN``)."""
        value = os.environ.get(variable, "").strip()
        if not value:
            raise ConfigurationError(
                f"{variable} is not set: put a Partner Center access token in it, "
                "or configure another sign-in method."
            )
        return cls(value)

    @property
    def expires_at(self) -> float | None:
        """The token's ``exp`` (epoch seconds), when readable."""
        return _claims_expiry(self.claims)

    async def get_token(self) -> str:
        """The token; an expired readable token fails here rather than as a 401 later."""
        expires_at = self.expires_at
        if expires_at is not None and time.time() >= expires_at:
            raise AuthenticationError(
                "The pre-acquired access token has expired: acquire a new one.",
                error="expired_token",
            )
        return self._token

    def __repr__(self) -> str:
        return f"StaticTokenProvider(kind={self.kind.value!r}, token={REDACTED!r})"


# --------------------------------------------------------------------------------------------
# Sandbox
# --------------------------------------------------------------------------------------------


class SandboxTokenProvider(_CachingProvider):
    """Tokens for the emulator's seeded users: in process (``issue``) or over HTTP (``base_url``).

    In process it calls ``issue(user_key, kind=kind)`` (the emulator's ``issue_token``; it may
    also be a coroutine function). Over HTTP it posts ``{"user": ..., "kind": ...}`` to
    ``/sandbox/token``. The MFA rule is checked exactly as for live tokens, so the sandbox
    rehearses what live does (``check_mfa=False`` lets the emulator's own 401 / 900421 show).
    """

    def __init__(
        self,
        user_key: str,
        *,
        issue: Callable[..., str | Awaitable[str]] | None = None,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        kind: TokenKind = TokenKind.APP_USER,
        check_mfa: bool = True,
    ) -> None:
        super().__init__()
        if issue is None and base_url is None and http is None:
            raise ConfigurationError(
                "SandboxTokenProvider needs either issue= (the in-process emulator) "
                "or base_url= / http= (the emulator over HTTP)."
            )
        self.user_key = user_key
        self.kind = TokenKind(kind)
        self._issue = issue
        self._base_url = base_url.rstrip("/") if base_url else None
        self._http = http
        self._check_mfa = check_mfa

    def __repr__(self) -> str:
        return f"SandboxTokenProvider(user_key={self.user_key!r}, kind={self.kind.value!r})"

    async def _acquire(self) -> _Token:
        if self._issue is not None:
            access_token, expires_in = await self._issue_in_process(), None
        else:
            access_token, expires_in = await self._issue_over_http()
        claims = read_claims(access_token)
        if self._check_mfa and self.kind is TokenKind.APP_USER:
            require_mfa(claims)
        return _token_from(access_token, expires_in, claims)

    async def _issue_in_process(self) -> str:
        assert self._issue is not None
        try:
            issued: Any = self._issue(self.user_key, kind=self.kind)
            if inspect.isawaitable(issued):
                issued = await issued
        except McaError:
            raise
        except Exception as exc:
            raise _error_from_exception(
                exc, action=f"The sandbox could not issue a token for {self.user_key!r}"
            ) from exc
        if not isinstance(issued, str) or not issued:
            raise AuthenticationError(
                f"The sandbox issued no token for {self.user_key!r}.", error="no_token"
            )
        return issued

    async def _issue_over_http(self) -> tuple[str, Any]:
        url = f"{self._base_url}/sandbox/token" if self._base_url else "/sandbox/token"
        body = {"user": self.user_key, "kind": self.kind.value}
        action = f"The sandbox refused a token for {self.user_key!r}"
        try:
            if self._http is not None:
                response = await self._http.post(url, json=body)
            else:
                async with httpx.AsyncClient(timeout=10.0) as client:
                    response = await client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise _error_from_exception(
                exc, action=f"Could not reach the sandbox at {url}"
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.is_error or not data.get("access_token"):
            raise _error_from_msal(
                {
                    "error": data.get("error") or f"http_{response.status_code}",
                    "error_description": data.get("error_description")
                    or data.get("message")
                    or _first_line(response.text)
                    or f"HTTP {response.status_code} without a token",
                },
                action=action,
            )
        return str(data["access_token"]), data.get("expires_in")


# --------------------------------------------------------------------------------------------
# MSAL
# --------------------------------------------------------------------------------------------


def _authority(authority_host: str, tenant_id: str) -> str:
    if not tenant_id:
        raise ConfigurationError("The partner tenant id is missing (the sign-in authority).")
    return f"{authority_host.rstrip('/')}/{tenant_id}"


class _MsalProvider(_CachingProvider):
    """Lazily built MSAL application (building one calls the network), shared by both flows."""

    def __init__(self) -> None:
        super().__init__()
        self._app: msal.ClientApplication | None = None
        self._app_lock = threading.Lock()

    def _build_app(self) -> msal.ClientApplication:
        raise NotImplementedError

    def _secrets(self) -> tuple[str | None, ...]:
        return ()

    def _get_app(self) -> msal.ClientApplication:
        """Build the MSAL app once, in a worker thread; a failed build is retried next time."""
        with self._app_lock:
            if self._app is None:
                self._app = self._build_app()
            return self._app

    def _call(self, action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one MSAL step (sync, in a worker thread); exceptions become AuthenticationError."""
        try:
            return fn(*args, **kwargs)
        except McaError:
            raise
        except Exception as exc:
            raise _error_from_exception(exc, action=action, secrets=self._secrets()) from exc

    def _token_from_result(self, result: Mapping[str, Any] | None, *, action: str) -> _Token:
        if not result or "access_token" not in result:
            raise _error_from_msal(result, action=action, secrets=self._secrets())
        access_token = str(result["access_token"])
        return _token_from(access_token, result.get("expires_in"), read_claims(access_token))


class MsalAppOnlyProvider(_MsalProvider):
    """App-only tokens (client credentials) for scripts and schedulers that only read/create.

    App-only cannot attest: Partner Center demands App+User for every MCA call.
    """

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        http_client: Any = None,
        token_cache: msal.TokenCache | None = None,
    ) -> None:
        super().__init__()
        if not client_id or not client_secret:
            raise ConfigurationError("App-only sign-in needs the app's client id and secret.")
        self.kind = TokenKind.APP_ONLY
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._client_secret = client_secret
        self._authority = _authority(authority_host, tenant_id)
        self._http_client = http_client
        self._token_cache = token_cache

    def __repr__(self) -> str:
        return f"MsalAppOnlyProvider(tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._client_secret,)

    def _build_app(self) -> msal.ClientApplication:
        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=self._client_secret,
            authority=self._authority,
            http_client=self._http_client,
            token_cache=self._token_cache,
        )

    def _acquire_sync(self) -> _Token:
        action = "Could not get an app-only token for Partner Center"
        app = self._call(action, self._get_app)
        result = self._call(action, app.acquire_token_for_client, scopes=[PC_SCOPE_APP])
        return self._token_from_result(result, action=action)

    async def _acquire(self) -> _Token:
        return await asyncio.to_thread(self._acquire_sync)


def _print_prompt(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class MsalAppUserProvider(_MsalProvider):
    """App+User tokens: a stored refresh token (secure application model) or device-code sign-in.

    * ``refresh_token=`` given: redeemed with ``acquire_token_by_refresh_token`` (a confidential
      client when ``client_secret`` is given, else a public client). For unattended schedulers.
    * no refresh token: device-code sign-in with a public client; ``device_code_prompt`` receives
      the "open https://microsoft.com/devicelogin and enter the code ..." text (default: stderr).

    Later calls try MSAL's in-memory cache (``acquire_token_silent``) first. Every new token must
    carry MFA, else MfaRequired.
    """

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        *,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        device_code_prompt: Callable[[str], None] | None = None,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        http_client: Any = None,
    ) -> None:
        super().__init__()
        if not client_id:
            raise ConfigurationError("App+User sign-in needs the app's client id.")
        self.kind = TokenKind.APP_USER
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._prompt = device_code_prompt or _print_prompt
        self._authority = _authority(authority_host, tenant_id)
        self._http_client = http_client
        #: Unverified claims of the last ID token (name, groups, ...), for identity_from_claims.
        self.id_token_claims: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"MsalAppUserProvider(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, "
            f"mode={self.mode!r})"
        )

    @property
    def mode(self) -> str:
        """ "refresh_token" (secure application model) or "device_code" (a person at the CLI)."""
        return "refresh_token" if self._refresh_token else "device_code"

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._client_secret, self._refresh_token)

    def _build_app(self) -> msal.ClientApplication:
        # Device code needs a public client; a refresh token works with either kind.
        if self._client_secret and self._refresh_token:
            return msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._client_secret,
                authority=self._authority,
                http_client=self._http_client,
            )
        return msal.PublicClientApplication(
            self.client_id, authority=self._authority, http_client=self._http_client
        )

    def _finish(self, result: Mapping[str, Any] | None, *, action: str) -> _Token:
        token = self._token_from_result(result, action=action)
        require_mfa(token.claims)
        assert result is not None
        if result.get("refresh_token"):  # rotated: keep the newest, in memory only
            self._refresh_token = str(result["refresh_token"])
        if result.get("id_token_claims"):
            self.id_token_claims = dict(result["id_token_claims"])
        return token

    def _silent_sync(self) -> _Token | None:
        """MSAL's own cache (and its refresh token) first: no prompt, maybe no network."""
        action = "Could not renew the Partner Center sign-in"
        app = self._call(action, self._get_app)
        accounts = self._call(action, app.get_accounts)
        if not accounts:
            return None
        result = self._call(action, app.acquire_token_silent, [PC_SCOPE_USER], account=accounts[0])
        if not result or "access_token" not in result:
            return None
        return self._finish(result, action=action)

    def _refresh_sync(self) -> _Token:
        action = "Could not redeem the stored refresh token for Partner Center"
        app = self._call(action, self._get_app)
        result = self._call(
            action,
            app.acquire_token_by_refresh_token,
            self._refresh_token,
            scopes=[PC_SCOPE_USER],
        )
        return self._finish(result, action=action)

    def _start_device_flow_sync(self) -> dict[str, Any]:
        action = "Could not start the device-code sign-in"
        app = self._call(action, self._get_app)
        flow = self._call(action, app.initiate_device_flow, scopes=[PC_SCOPE_USER])
        if not isinstance(flow, dict) or "user_code" not in flow:
            raise _error_from_msal(flow, action=action, secrets=self._secrets())
        # One poll per thread hop: the waiting happens on the event loop, so it can be cancelled.
        flow["interval"] = max(1, int(flow.get("interval") or 5))
        return flow

    def _poll_device_flow_sync(self, flow: dict[str, Any]) -> dict[str, Any]:
        app = self._call("Device-code sign-in failed", self._get_app)
        return self._call(
            "Device-code sign-in failed",
            app.acquire_token_by_device_flow,
            flow,
            exit_condition=lambda _flow: True,
        )

    async def _device_flow(self) -> _Token:
        action = "Device-code sign-in failed"
        flow = await asyncio.to_thread(self._start_device_flow_sync)
        self._prompt(str(flow.get("message") or f"Enter the code {flow['user_code']}."))
        while True:
            result = await asyncio.to_thread(self._poll_device_flow_sync, flow)
            error = result.get("error") if isinstance(result, dict) else None
            if error not in (_DEVICE_FLOW_PENDING, _DEVICE_FLOW_SLOW_DOWN):
                return self._finish(result, action=action)
            interval = float(flow.get("interval") or 5)  # MSAL lengthens it on "slow_down"
            if time.time() + interval > float(flow.get("expires_at") or 0):
                raise AuthenticationError(
                    f"{action}: the code was not entered in time. {_HINTS['expired_token']}",
                    error="expired_token",
                    correlation_id=result.get("correlation_id"),
                )
            await _sleep(interval)

    async def _acquire(self) -> _Token:
        token = await asyncio.to_thread(self._silent_sync)
        if token is not None:
            return token
        if self._refresh_token:
            return await asyncio.to_thread(self._refresh_sync)
        return await self._device_flow()
