"""Who is signed in and which desk serves them: shared by the home page, the guard and pages.

One `App` per process (st.cache_resource): the backend (the embedded emulator), the rate
limiter and the template cache are shared by every session. The signed-in actor lives in the
session; a reload of the browser starts a new session, so in the sandbox the chosen user also
rides in the URL as a signed, short-lived token (`?as=`, see `issue_sandbox_token`). Live mode
never reads it: there `st.login`'s own cookie keeps the user signed in.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from typing import Any

import streamlit as st

from mca_core import (
    SANDBOX_SECRET_FILE,
    SANDBOX_TOKEN_LIFETIME_S,
    Actor,
    App,
    ConfigurationError,
    McaError,
    Settings,
    flatten_mca_table,
    issue_sandbox_token,
    load_settings,
    sandbox_secret,
    sandbox_user_keys,
)
from mca_core import read_sandbox_token as _read_token

SECRET_FILE = SANDBOX_SECRET_FILE
TOKEN_LIFETIME_S = SANDBOX_TOKEN_LIFETIME_S
SESSION_USER_KEY = "sandbox_user_key"
#: The session's own sign-in token (sandbox), put back in the URL when a link dropped it.
SESSION_TOKEN_KEY = "sandbox_sign_in_token"
#: The query parameter carrying the sandbox sign-in across a reload.
TOKEN_PARAM = "as"


def _secrets_mca() -> dict[str, Any]:
    try:
        table = st.secrets.get("mca", {})
    except FileNotFoundError:
        return {}
    except Exception:  # a malformed secrets.toml is reported by load_settings' own read
        return {}
    return flatten_mca_table(table.to_dict() if hasattr(table, "to_dict") else dict(table))


#: The settings behind each cached App, by the digest `app()` keys the cache on.
_SETTINGS_BY_KEY: dict[str, Settings] = {}


@st.cache_resource(show_spinner=False)
def _app_for(settings_key: str) -> App:
    app = App.from_settings(_SETTINGS_BY_KEY[settings_key])
    with suppress(McaError):  # a sandbox that cannot sync yet still opens; its button says why
        app.open_sandbox_on_data()
    return app


def _settings_key(s: Settings) -> str:
    """A digest of every setting, secrets included. (The App was once built again from
    `model_dump_json()`, which writes each secret as "**********": the dashboard's App then held
    that mask as its client secret, SMTP password and webhook URL.)"""
    values = {
        name: value.get_secret_value() if hasattr(value, "get_secret_value") else value
        for name, value in s.model_dump().items()
    }
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def settings() -> Settings:
    return load_settings(secrets=_secrets_mca())


def app() -> App:
    """The process's App for the current settings (one per configuration)."""
    s = settings()
    key = _settings_key(s)
    _SETTINGS_BY_KEY.setdefault(key, s)
    return _app_for(key)


def live_login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:
        return False


def current_actor() -> Actor | None:
    """The signed-in actor, or None. Sandbox: the chosen seeded user; live: st.user's token."""
    a = app()
    if a.is_sandbox:
        key = st.session_state.get(SESSION_USER_KEY)
        return a.sandbox_actor(key) if key else None
    user = st.user
    if not getattr(user, "is_logged_in", False):
        return None
    access = user.tokens.get("access") if hasattr(user, "tokens") else None
    return a.actor_from_login(access, dict(user.to_dict()))


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
    if not app().is_sandbox and getattr(st.user, "is_logged_in", False):
        st.logout()


# --- the sandbox sign-in across a reload ------------------------------------------------------


def read_sandbox_token(
    token: str | None, secret: bytes, *, now: float | None = None, lifetime: int = TOKEN_LIFETIME_S
) -> str | None:
    """The seeded user a valid, unexpired token names (see `mca_core.read_sandbox_token`)."""
    return _read_token(token, secret, known=sandbox_user_keys(), now=now, lifetime=lifetime)


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
