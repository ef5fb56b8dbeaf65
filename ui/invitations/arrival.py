"""What the Invitations page does on every run before its tabs: consume the prefill from the
new-customer flow, preselect the `?customer=` of the address, offer a sync before the first one."""

from __future__ import annotations

import streamlit as st

from mca_core import LOCALES
from ui import blocks
from ui.i18n import t

from .context import INVITE, PASSWORD_KEY, InvitationsContext
from .shared import locale_for, reset_customer_fields


def clear(prefix: str) -> None:
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def before_tabs(ctx: InvitationsContext) -> None:
    """Every run of the page, before the tabs are drawn (in this order)."""
    prefixes = ctx.prefixes
    known, known_domains, countries = ctx.known, ctx.known_domains, ctx.countries

    # Coming from the new-customer flow: consume the prefill once (the password goes to the
    # widget).
    prefill = st.session_state.pop("invite_prefill", None)
    if isinstance(prefill, dict) and INVITE in prefixes:
        clear(INVITE)
        customer_id = str(prefill.get("customer_id") or "")
        name = str(prefill.get("company_name") or "")
        known[customer_id] = " · ".join(x for x in (name, str(prefill.get("domain") or "")) if x)
        known_domains[customer_id] = str(prefill.get("domain") or "")
        st.session_state[f"{INVITE}_mode"] = "new"
        st.session_state[f"{INVITE}_customer"] = customer_id
        st.session_state[f"{INVITE}_user"] = str(prefill.get("user_name") or "")
        st.session_state[PASSWORD_KEY] = str(prefill.get("password") or "")
        st.session_state[f"{INVITE}_to"] = str(prefill.get("to") or "")
        locale = str(prefill.get("locale") or "en")
        st.session_state[f"{INVITE}_locale"] = locale if locale in LOCALES else "en"
        st.session_state["inv_prefilled"] = name or customer_id
        st.session_state["inv_tab"] = INVITE

    # ?customer=<tenant id>: preselect it everywhere once (and the email language by its country).
    wanted = st.query_params.get("customer")
    if wanted and st.session_state.get("inv_query_customer") != wanted:
        st.session_state["inv_query_customer"] = wanted
        for prefix in prefixes:
            if st.session_state.get(f"{prefix}_customer") != wanted:
                reset_customer_fields(prefix)  # nothing of another customer comes along
            st.session_state[f"{prefix}_customer"] = wanted
            if wanted in countries:
                st.session_state[f"{prefix}_locale"] = locale_for(countries[wanted])
        if INVITE in prefixes and not st.session_state.get("inv_prefilled"):
            st.session_state[f"{INVITE}_mode"] = "existing"

    # No snapshot yet: say so, and offer the first sync to those who may run it.
    if not ctx.labels:
        with st.container(border=True):
            st.info(t("inv_no_snapshot"))
            if blocks.may_sync(ctx.identity) and st.button(t("sync_now")):
                blocks.run_sync_with_progress(ctx.app, ctx.actor, incremental=False)
                st.rerun()
