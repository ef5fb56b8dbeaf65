"""Verify: where one customer stands on the MCA — every attestation newest first, direct
acceptance, the verdict, and the next step. Every agent, Helpdesk included, and Managers."""

from __future__ import annotations

import streamlit as st

from mca_core import InvalidInput, McaError, Verification, access
from ui import attest_blocks as ab
from ui import session
from ui.guard import page_setup, require
from ui.i18n import t
from ui.markup import md

page_setup("verify_title", icon="🔎")
actor = require(access.check_may_verify)
app = session.app()
identity = actor.identity
ss = st.session_state

st.title(t("verify_title"))
st.caption(t("verify_intro"))

snapshot, synced = ab.synced_customers(app, actor)
if snapshot is None:
    ab.offer_sync(app, actor, key="vf_sync")
ab.partial_list_warning(snapshot)
ab.preselect_from_query("vf_customer", "vf_query_customer")
reference = ab.customer_picker(synced, key="vf_customer")
if not reference:
    st.caption(t("vf_pick_first"))
    st.stop()

cached = ss.get("vf_result")
again = st.button(t("vf_again"), key="vf_again", icon="🔄")
if again or cached is None or cached["ref"] != reference:
    try:
        found = ab.run_use_case(lambda: app.verify(actor, reference))
    except McaError as exc:
        cached = {"ref": reference, "error": exc}
    else:
        cached = {"ref": reference, "found": found}
    ss["vf_result"] = cached

if "error" in cached:
    ab.show_error(cached["error"], lead=t("vf_failed"))
    if not isinstance(cached["error"], InvalidInput):
        st.caption(t("vf_try_again"))
    st.stop()

found: Verification = cached["found"]
customer = found.customer
st.subheader(md(customer.company_name or customer.domain))
st.caption(t("vf_ids", domain=customer.domain, id=customer.id))
ab.verdict_block(found)

st.markdown(f"##### {t('vf_next_step')}")
step = found.next_step
if step == "none":
    st.success(t("next_none"), icon="✅")
else:
    advice = t(f"next_{step}")
    if found.state == "reacceptance_required":  # same links: accepting the current MCA is due
        advice = t("next_reaccept", since=found.status.current_since.isoformat()) + " " + advice
    st.info(advice, icon="👉")
    if step == "attest":
        ab.link_page(ab.ATTEST_PAGE, t("vf_go_attest"), icon="✍️", customer=customer.id)
        ab.link_page(ab.INVITATIONS_PAGE, t("vf_go_invite"), icon="✉️", customer=customer.id)
    elif step == "invite":
        ab.link_page(ab.INVITATIONS_PAGE, t("vf_go_invite"), icon="✉️", customer=customer.id)
    elif step == "ask_provider":
        ab.link_page(ab.INVITATIONS_PAGE, t("vf_go_provider"), icon="✉️", customer=customer.id)
    # "ask_agent" (a Manager, read-only): the advice names who to ask; no page to go to

st.markdown(f"##### {t('vf_attestations')}")
if found.attestations:
    st.dataframe(ab.attestation_frame(found), hide_index=True, width="stretch")
    st.caption(t("vf_attested_by_note"))
else:
    st.caption(t("vf_no_attestation"))
st.markdown(
    f"**{t('m_direct')}**: " + (t("vf_direct_yes") if found.direct_signed else t("vf_direct_no"))
)
st.caption(t("vf_checked", when=ab.utc_time(found.checked_at)))
