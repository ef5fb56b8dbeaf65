"""Invitations: write, edit and hand off the emails that get a customer's MCA accepted.

Generators shown are the ones the user may use (the use cases check again): an indirect
reseller sees "Request to my indirect provider" first. A new customer's temporary password lives
only in this page's password widget: drafts kept between runs forget it, and Done (or leaving the
page, which drops the widget's state) clears it. The generators live in ui/invitations/.
"""

from __future__ import annotations

import streamlit as st

from mca_core import access
from ui import attest_blocks as ab
from ui import session
from ui.guard import page_setup, require
from ui.i18n import t
from ui.invitations import arrival, invite, provider, reseller, shared
from ui.invitations.context import INVITE, PROVIDER, RESELLER, InvitationsContext

page_setup("invitations_title", icon="✉️")
actor = require(access.check_may_send_invitations)  # a Manager is read-only
app = session.app()

snapshot = app.latest_snapshot(actor.identity)
rows = shared.load_customers(app, snapshot)
ctx = InvitationsContext(
    app=app,
    actor=actor,
    identity=actor.identity,
    rows=rows,
    labels=shared.customer_labels(rows),
    countries=shared.customer_countries(rows),
    known=st.session_state.setdefault("inv_known", {}),
    known_domains=st.session_state.setdefault("inv_known_domains", {}),
    generators=shared.available_generators(actor.identity),
)

st.title(t("invitations_title"))
st.caption(t("inv_caption"))
if not ctx.generators:
    st.warning(t("inv_none_available"))
    st.stop()
ab.partial_list_warning(snapshot)

arrival.before_tabs(ctx)

render = {PROVIDER: provider.render, INVITE: invite.render, RESELLER: reseller.render}
titles = dict(ctx.generators)
opened = st.session_state.get("inv_tab")
default = titles.get(opened) if opened in titles else ctx.generators[0][1]
for tab, prefix in zip(st.tabs(list(titles.values()), default=default), titles, strict=True):
    with tab:
        render[prefix](ctx)
