"""Attest: confirm that a customer accepted the MCA — an existing customer, a new customer, a
CSV in bulk, or the customers whose orders are blocked. Admin and Sales agents of a direct-bill
partner or an indirect provider only (the use cases check again)."""

from __future__ import annotations

import streamlit as st

from ui import attest_blocks as ab
from ui import enhanced_blocks as eb
from ui import session
from ui.attest import blocked, bulk, existing, new_customer, signers
from ui.attest.context import TAB_KEYS, AttestContext
from ui.guard import page_setup
from ui.i18n import t

page_setup("attest_title", icon="✍️")
actor = ab.require_attester()
app = session.app()

st.title(t("attest_title"))
st.caption(t("attest_intro"))
eb.channel_caption(app)
enhanced = eb.channel(app) == "enhanced"

snapshot, synced = ab.synced_customers(app, actor)
ctx = AttestContext(
    app=app,
    actor=actor,
    identity=actor.identity,
    snapshot=snapshot,
    synced=synced,
    enhanced=enhanced,
    tab_labels={key: t(f"tab_{key}") for key in TAB_KEYS},
)

new_customer.before_tabs()
existing.before_tabs(ctx)

tabs = st.tabs(list(ctx.tab_labels.values()), key="attest_tab", on_change="rerun")
with tabs[0]:
    existing.render(ctx, is_open=bool(tabs[0].open))
with tabs[1]:
    new_customer.render(ctx, is_open=bool(tabs[1].open))
with tabs[2]:  # the enhanced channel reads a file of signers; classic, of attestations
    (signers if enhanced else bulk).render(ctx)
with tabs[3]:
    blocked.render(ctx)
