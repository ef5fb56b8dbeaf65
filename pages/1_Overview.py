"""Overview: acceptance KPIs, charts, filters and the customer table, from the latest snapshot."""

from __future__ import annotations

import streamlit as st

from mca_core import access, metrics
from ui import blocks, enhanced_blocks, overview_blocks, session
from ui.guard import page_setup, require
from ui.i18n import t, tn

page_setup("overview_title", icon="📊")
actor = require(access.check_signed_in)
app = session.app()
identity = actor.identity

st.title(t("overview_title"))
st.caption(t("overview_caption"))

snapshots = app.snapshots(identity, limit=200)
latest = snapshots[0] if snapshots else None
if latest is None and blocks.first_sync_running(app, actor):
    st.stop()
if latest is None:
    st.info(t("no_snapshot"))
    blocks.read_only_note(identity)  # a Manager: who to ask for the sync instead
    if blocks.may_sync(identity) and st.button(t("sync_now"), type="primary"):
        blocks.run_sync_with_progress(app, actor, incremental=False)
        st.rerun()
    st.stop()

summary = latest.summary
mode = t("mode_full") if str(latest.mode).startswith("full") else t("mode_default")
top = st.columns([3, 1])
top[0].markdown(
    tn(
        "overview_synced",
        int(summary.get("api_calls") or 0),
        when=latest.taken_at.strftime("%Y-%m-%d %H:%M"),
        who=latest.taken_by,
        mode=mode,
    )
)
if latest.revision:
    st.caption(tn("overview_written_through", latest.revision))
if not latest.complete:
    st.warning(t("sync_incomplete"))
blocks.read_only_note(identity, top[1])
if blocks.may_sync(identity) and top[1].button(t("sync_refresh"), width="stretch"):
    blocks.run_sync_with_progress(app, actor, incremental=True)
    st.rerun()

previous = next((s for s in snapshots[1:] if s.complete), None)
if previous is not None and "reacceptance_required" not in previous.summary:
    previous = None  # counted before the desk knew the 2023 MCA refresh: no fair comparison
overview_blocks.kpi_cards(
    overview_blocks.kpis(app, latest),  # of the snapshot's frame, shared by every session
    metrics.kpis_from_summary(previous.summary) if previous else None,
    app.current_since,
)
enhanced_blocks.pipeline_section(app, actor)  # the enhanced channel's cards and work list

st.divider()
filters = overview_blocks.filters(app, latest)
shown = overview_blocks.view(app, latest, filters)  # shared by every session (cached)
overview_blocks.filter_caption(shown)
overview_blocks.charts(
    shown,
    snapshots,
    app.audit_events(
        identity,
        action=["attest", "bulk_attest", "finalise"],
        outcome="attested",
    ),
)

st.divider()
st.subheader(t("table_title"))
overview_blocks.customer_table(
    shown,
    read_only=blocks.is_manager(identity),
    invited=app.latest_invitations(identity),  # invited on / by: shared, one lookup a run
)
overview_blocks.download_buttons(  # files built only when clicked
    app, latest, filters, partner=identity.partner_name or identity.partner_tenant_id
)
