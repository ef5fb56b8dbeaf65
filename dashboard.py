"""Home page: who am I, which backend, the acceptance headline, where to go next."""

from __future__ import annotations

import streamlit as st

from mca_core import AccessRefused, ConfigurationError, Identity, check_may_attest
from ui import blocks, enhanced_blocks, session
from ui.guard import page_setup
from ui.i18n import partner_type_label, refusal_text, role_label, t, t_plain
from ui.markup import md

page_setup("app_title", icon="🤝")
st.title(t("app_title"))
st.caption(t("app_tagline"))

try:
    app = session.app()
except ConfigurationError as exc:
    st.error(t("config_error", error=str(exc)))
    st.stop()

if app.is_sandbox:
    st.info(t("sandbox_banner"), icon="🧪")
else:
    st.success(t("live_banner", url=app.base_url), icon="🔐")

actor = session.current_actor()


def sandbox_sign_in() -> None:
    users = app.sandbox_users()
    st.subheader(t("sign_in_title"))
    st.write(t("sign_in_sandbox_help"))
    keys = list(users)

    def describe(key: str) -> str:
        user = users[key].identity
        role, kind = role_label(user.role), partner_type_label(user.partner_type)
        return f"{user.display_name} — {role}, {kind} ({user.partner_name})"

    with st.form("sandbox_sign_in"):
        choice = st.radio("user", keys, format_func=describe, label_visibility="collapsed")
        if st.form_submit_button(t("sign_in_button"), type="primary"):
            session.sign_in_sandbox(choice)
            st.rerun()


def live_sign_in() -> None:
    st.subheader(t("sign_in_title"))
    st.write(t("sign_in_live_help"))
    if not session.live_login_configured():
        st.error(t("config_error", error=t_plain("config_auth_missing")))
        return
    if st.button(t("sign_in_microsoft"), type="primary"):
        st.login()


def who_am_i(identity: Identity) -> None:
    cols = st.columns(4)
    cols[0].markdown(
        f"**{t('signed_in_as')}**  \n{md(identity.display_name)}  \n"
        f"{md(identity.email or identity.user_id)}"
    )
    role = role_label(identity.role) if identity.role_known else t("role_unknown")
    cols[1].markdown(f"**{t('role')}**  \n{role}")
    partner = identity.partner_name or identity.partner_tenant_id
    kind = partner_type_label(identity.partner_type)
    cols[2].markdown(f"**{t('partner_type')}**  \n{md(kind)}  \n{md(partner)}")
    backend = t("backend_sandbox") if app.is_sandbox else t("backend_live")
    cols[3].markdown(f"**{t('backend')}**  \n{backend}")
    enhanced_blocks.channel_caption(app)
    st.markdown(f"#### {t('you_may')}")
    if blocks.is_manager(identity):  # read-only: say what there is to read, not what is refused
        st.info(t("manager_may"), icon="📊")
        return
    try:
        check_may_attest(identity)
        st.success(t("may_attest_yes"), icon="✅")
    except AccessRefused as exc:
        st.warning(t("may_attest_no", reason=refusal_text(exc)), icon="ℹ️")


if actor is None:
    if app.is_sandbox:
        sandbox_sign_in()
    else:
        live_sign_in()
    st.stop()

blocks.first_snapshot(app, actor)
blocks.sync_activity(app, actor)
who_am_i(actor.identity)
st.divider()
st.markdown(f"### {t('headline')}")
blocks.acceptance_headline(app, actor)
st.divider()
blocks.page_links(actor.identity)

with st.sidebar:
    st.caption(f"{t('signed_in_as')}: {md(actor.identity.display_name)}")
    if st.button(t("sign_out")):
        session.sign_out()
        st.rerun()
