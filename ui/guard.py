"""The one page guard every page calls first. Hiding a link is not authorization: each page
checks here, and the `mca_core` use cases check again."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from mca_core import AccessRefused, Actor, ConfigurationError, Identity, Role

from . import blocks, i18n, nav, session
from .i18n import t

Rule = Callable[[Identity], None]


#: Session keys holding a new customer's temporary password, by the only page that may hold
#: them (the Invitations page's password field and the hand-off from Attest to it).
SECRET_KEYS_BY_PAGE = {"invitations_title": ("inv1_password", "inv2_password", "invite_prefill")}


def forget_secrets_of_other_pages(title_key: str) -> None:
    """A new customer's first-admin password lives only on the page that shows it (Attest) or
    takes it (Invitations): any other page drops it at once, so it is not kept in the session
    while the user is elsewhere. (Streamlit forgets another page's widgets only when a run ends
    normally: a page that ends in st.stop() keeps them.)"""
    if title_key != "attest_title":
        outcome = st.session_state.get("ncx_outcome")
        if getattr(outcome, "credentials", None) is not None:
            st.session_state["ncx_outcome"] = outcome.without_credentials()
            st.session_state["ncx_creds_dropped"] = True
            st.session_state.pop("ncx_creds_shown", None)
    for page, keys in SECRET_KEYS_BY_PAGE.items():
        if page != title_key:
            for key in keys:
                st.session_state.pop(key, None)


def page_setup(title_key: str, icon: str = "📄") -> None:
    """Page config and the shared sidebar (language, backend) for every page."""
    forget_secrets_of_other_pages(title_key)
    session.keep_sandbox_sign_in()  # a reload starts a new session: the sandbox user survives
    if "ui_language" in st.session_state:
        # Streamlit drops a widget's state when another page runs; writing the key back keeps
        # the chosen language across pages (Streamlit's documented multipage workaround).
        st.session_state["ui_language"] = st.session_state["ui_language"]
    st.set_page_config(page_title=f"{i18n.t(title_key)} · MCA", page_icon=icon, layout="wide")
    with st.sidebar:
        nav.sidebar_navigation(_hidden_pages())
        st.divider()
        st.selectbox(
            t("language"),
            options=list(i18n.LANGUAGES),
            format_func=lambda code: i18n.LANGUAGES[code],
            key="ui_language",
        )


def _hidden_pages() -> frozenset[str]:
    """The pages the signed-in user's role is refused outright (a Manager's)."""
    actor = session.current_actor()
    identity = actor.identity if actor is not None else None
    manager = identity is not None and identity.role_known and identity.role is Role.MANAGER
    return nav.MANAGER_HIDDEN if manager else frozenset()


def require(rule: Rule | None = None) -> Actor:
    """Return the signed-in actor allowed by `rule`, or explain and stop the page."""
    try:
        actor = session.current_actor()
    except ConfigurationError as exc:
        st.error(t("config_error", error=str(exc)))
        st.stop()
        raise  # unreachable: st.stop ends the script
    if actor is None:
        st.warning(t("guard_sign_in"))
        nav.page_link("dashboard.py", t("guard_go_home"), icon="🏠")
        st.stop()
    assert actor is not None
    if rule is not None:
        try:
            rule(actor.identity)
        except AccessRefused as exc:
            st.error(f"**{t('guard_refused')}** — {i18n.refusal_text(exc)}")
            st.stop()
    app = session.app()
    blocks.first_snapshot(app, actor)
    blocks.sync_activity(app, actor)
    return actor
