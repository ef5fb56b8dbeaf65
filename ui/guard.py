"""The one page guard every page calls first. Hiding a link is not authorization: each page
checks here, and the `mca_core` use cases check again."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from mca_core.desk import Actor
from mca_core.errors import AccessRefused, ConfigurationError
from mca_core.models import Identity

from . import i18n, nav, session
from .i18n import t

Rule = Callable[[Identity], None]


def page_setup(title_key: str, icon: str = "📄") -> None:
    """Page config and the shared sidebar (language, backend) for every page."""
    st.set_page_config(page_title=f"{i18n.t(title_key)} · MCA", page_icon=icon, layout="wide")
    with st.sidebar:
        nav.sidebar_navigation()
        st.divider()
        st.selectbox(
            t("language"),
            options=list(i18n.LANGUAGES),
            format_func=lambda code: i18n.LANGUAGES[code],
            key="ui_language",
        )


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
    return actor
