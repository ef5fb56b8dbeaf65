"""The Attest page's blocked tab: the synced customers whose orders are blocked (no accepted
MCA), less those attested since the sync, each with a button to the existing-customer form."""

from __future__ import annotations

import streamlit as st

from ui import attest_blocks as ab
from ui.i18n import t, tn
from ui.markup import md

from .context import AttestContext
from .existing import open_existing

# --- blocked customers -------------------------------------------------------------------------

BLOCKED_PAGE_SIZE = 20


def render(ctx: AttestContext) -> None:
    if ctx.snapshot is None:
        ab.offer_sync(ctx.app, ctx.actor, key="bl_sync")
        return
    blocked = [r for r in ctx.synced.values() if r.get("accepted") is False]
    since = ctx.app.audit_events(
        ctx.identity,
        action=["attest", "bulk_attest", "finalise"],
        outcome=["attested", "already_attested"],
        since=ctx.snapshot.taken_at,
    )
    done = {e.customer_id for e in since}
    left = [r for r in blocked if r["customer_id"] not in done]
    st.warning(t("blocked_why"), icon="⛔")
    notes = [tn("list_synced", len(ctx.synced), when=ab.utc_time(ctx.snapshot.taken_at))]
    if len(left) < len(blocked):
        notes.append(tn("blocked_done_since", len(blocked) - len(left)))
    st.caption(" ".join(notes))
    ab.partial_list_warning(ctx.snapshot)
    if not left:
        st.success(t("blocked_none"), icon="✅")
        return
    count, search, paging = st.columns([1, 3, 1], vertical_alignment="bottom")
    count.metric(t("blocked_count"), f"{len(left):,}")
    query = search.text_input(t("blocked_search"), key="bl_search").strip().casefold()
    if query:
        left = [
            r
            for r in left
            if query in f"{r.get('company_name')} {r.get('domain')} {r['customer_id']}".casefold()
        ]
    left.sort(key=lambda r: str(r.get("company_name") or "").casefold())
    pages = max(1, -(-len(left) // BLOCKED_PAGE_SIZE))
    page = 1
    if pages > 1:
        page = int(paging.number_input(t("blocked_page", pages=pages), 1, pages, 1, key="bl_page"))
    if not left:
        st.caption(t("blocked_no_match"))
        return
    head = st.columns([4, 4, 1, 2])
    for col, key in zip(
        head, ("col_company", "col_domain", "col_country", "col_action"), strict=True
    ):
        col.markdown(f"**{t(key)}**")
    start = (page - 1) * BLOCKED_PAGE_SIZE
    for row in left[start : start + BLOCKED_PAGE_SIZE]:
        cols = st.columns([4, 4, 1, 2], vertical_alignment="center")
        cols[0].markdown(md(row.get("company_name") or "—"))
        cols[1].markdown(md(row.get("domain") or ""))
        cols[2].markdown(md(row.get("country") or ""))
        cols[3].button(
            t("blocked_attest"),
            key=f"bl_attest_{row['customer_id']}",
            on_click=open_existing,
            args=(ctx, row["customer_id"]),
            width="stretch",
        )
