"""Who is signed in and which desk serves them: shared by the home page, the guard and pages.

One `Desk` per process (st.cache_resource): the embedded emulator, the rate limiter and the
template cache are shared by every session. The signed-in actor lives in the session; a reload of
the browser starts a new session, so in the sandbox the chosen user also rides in the URL as a
signed, short-lived token (`?as=`, see `issue_sandbox_token`). Live mode never reads it: there
`st.login`'s own cookie keeps the user signed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import streamlit as st

from mca_core.auth.providers import StaticTokenProvider, read_claims
from mca_core.config import Settings, flatten_mca_table, load_settings
from mca_core.desk import Actor, Desk
from mca_core.domain.errors import ConfigurationError

SESSION_USER_KEY = "sandbox_user_key"
#: The session's own sign-in token (sandbox), put back in the URL when a link dropped it.
SESSION_TOKEN_KEY = "sandbox_sign_in_token"
#: The query parameter carrying the sandbox sign-in across a reload.
TOKEN_PARAM = "as"
#: How long a sandbox sign-in survives reloads: a working day, counted from the sign-in.
TOKEN_LIFETIME_S = 8 * 3600
#: The per-installation HMAC key, in the sandbox data dir (never a Partner Center token).
SECRET_FILE = "session-secret"
_TOKEN_CONTEXT = b"mca-desk sandbox sign-in v1"
_secrets_by_path: dict[Path, bytes] = {}


def _secrets_mca() -> dict[str, Any]:
    try:
        table = st.secrets.get("mca", {})
    except FileNotFoundError:
        return {}
    except Exception:  # a malformed secrets.toml is reported by load_settings' own read
        return {}
    return flatten_mca_table(table.to_dict() if hasattr(table, "to_dict") else dict(table))


@st.cache_resource(show_spinner=False)
def _desk_for(settings_json: str) -> Desk:
    return Desk(Settings.model_validate_json(settings_json))


def settings() -> Settings:
    return load_settings(secrets=_secrets_mca())


def desk() -> Desk:
    s = settings()
    return _desk_for(s.model_dump_json())


def live_login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:
        return False


def current_actor() -> Actor | None:
    """The signed-in actor, or None. Sandbox: the chosen seeded user; live: st.user's token."""
    d = desk()
    if d.is_sandbox:
        key = st.session_state.get(SESSION_USER_KEY)
        return d.sandbox_actor(key) if key else None
    user = st.user
    if not getattr(user, "is_logged_in", False):
        return None
    access = user.tokens.get("access") if hasattr(user, "tokens") else None
    if access:
        tokens = StaticTokenProvider(access)
        claims = read_claims(access) or dict(user.to_dict())
    else:  # the secure application model: the app's own App+User refresh token
        tokens = d.live_tokens()
        claims = dict(user.to_dict())
    identity = d.live_identity(tokens, claims)
    return Actor(identity, tokens)


def sign_in_sandbox(user_key: str) -> None:
    st.session_state[SESSION_USER_KEY] = user_key
    try:
        token = issue_sandbox_token(user_key, sandbox_secret(settings().emulator_dir))
    except (OSError, ValueError, ConfigurationError):  # no secret: signed in until a reload
        return
    st.session_state[SESSION_TOKEN_KEY] = token
    st.query_params[TOKEN_PARAM] = token


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        if key != "ui_language":
            del st.session_state[key]
    _drop_token_param()
    if not desk().is_sandbox and getattr(st.user, "is_logged_in", False):
        st.logout()


# --- the sandbox sign-in across a reload ------------------------------------------------------


def sandbox_secret(directory: Path) -> bytes:
    """The installation's HMAC key for sandbox sign-in tokens: 32 random bytes in
    `<data>/sandbox/session-secret` (mode 0600), made on first use. Several processes may race
    to make it: the first link wins and everyone reads the winner's file."""
    path = Path(directory) / SECRET_FILE
    known = _secrets_by_path.get(path)
    if known is not None:
        return known
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".session-secret-", dir=path.parent)
        try:  # mkstemp creates the file 0600
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) < 32:
        raise ConfigurationError(f"{path} is not a session secret: delete it to make a new one.")
    _secrets_by_path[path] = key
    return key


def _mac(secret: bytes, user_key: str, expires: int) -> str:
    message = b"|".join((_TOKEN_CONTEXT, user_key.encode(), str(expires).encode()))
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue_sandbox_token(
    user_key: str, secret: bytes, *, now: float | None = None, lifetime: int = TOKEN_LIFETIME_S
) -> str:
    """`<user key>.<expiry, unix seconds>.<HMAC-SHA256>`: names a seeded sandbox user, proves
    this installation issued it, and says until when. It carries no credential: the sandbox
    user's Partner Center token is still issued by the emulator for each session."""
    expires = int(time.time() if now is None else now) + lifetime
    return f"{user_key}.{expires}.{_mac(secret, user_key, expires)}"


def read_sandbox_token(
    token: str | None, secret: bytes, *, now: float | None = None, lifetime: int = TOKEN_LIFETIME_S
) -> str | None:
    """The seeded user a valid, unexpired token names; None for anything else (tampered,
    expired, from another installation, or naming no seeded user)."""
    from mca_core.emulator import SANDBOX_USERS

    if not isinstance(token, str) or len(token) > 256 or token.count(".") != 2:
        return None
    user_key, expires_text, mac = token.split(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return None
    expires = int(expires_text)
    if not hmac.compare_digest(mac.encode(), _mac(secret, user_key, expires).encode()):
        return None
    current = time.time() if now is None else now
    if not current < expires <= current + lifetime + 60:  # a minute of clock skew
        return None
    return user_key if user_key in SANDBOX_USERS else None


def user_from_token(token: str | None, s: Settings, *, now: float | None = None) -> str | None:
    """The sandbox user to sign in again from a URL token: never in live mode."""
    if s.backend != "sandbox" or not token:
        return None
    return read_sandbox_token(token, sandbox_secret(s.emulator_dir), now=now)


def _drop_token_param() -> None:
    if TOKEN_PARAM in st.query_params:
        del st.query_params[TOKEN_PARAM]


def keep_sandbox_sign_in() -> None:
    """Every page run: sign the sandbox user in again from the URL after a reload, and keep the
    token in the URL when a page link or `st.switch_page` dropped it. An invalid or expired
    token is removed (the page then asks to sign in); in live mode any token is removed."""
    try:
        s = settings()
    except ConfigurationError:
        return  # the page's guard shows the configuration error
    if s.backend != "sandbox":
        _drop_token_param()
        st.session_state.pop(SESSION_TOKEN_KEY, None)
        return
    if st.session_state.get(SESSION_USER_KEY):
        own = st.session_state.get(SESSION_TOKEN_KEY)
        if own and st.query_params.get(TOKEN_PARAM) != own:
            st.query_params[TOKEN_PARAM] = own
        return
    token = st.query_params.get(TOKEN_PARAM)
    if token is None:
        return
    try:
        user_key = user_from_token(token, s)
    except (OSError, ValueError, ConfigurationError):  # no readable secret: no token is valid
        user_key = None
    if user_key is None:
        _drop_token_param()
        return
    st.session_state[SESSION_USER_KEY] = user_key
    st.session_state[SESSION_TOKEN_KEY] = token
