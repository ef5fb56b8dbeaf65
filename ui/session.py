"""Who is signed in and which desk serves them: shared by the home page, the guard and pages.

One `Desk` per process (st.cache_resource): the embedded emulator, the rate limiter and the
template cache are shared by every session. The signed-in actor lives in the session only.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from mca_core.auth import StaticTokenProvider, read_claims
from mca_core.config import Settings, flatten_mca_table, load_settings
from mca_core.desk import Actor, Desk

SESSION_USER_KEY = "sandbox_user_key"


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


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        if key != "ui_language":
            del st.session_state[key]
    if not desk().is_sandbox and getattr(st.user, "is_logged_in", False):
        st.logout()
