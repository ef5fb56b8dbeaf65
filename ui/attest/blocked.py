"""The Attest page's blocked tab: the synced customers whose new orders are refused (no
accepted MCA, or only an acceptance of an earlier MCA), less those attested since the sync,
each with why and a button to the existing-customer tab: "Attest…" (the classic form) or, on the
enhanced channel, "Send a link…" (the enhanced path, preselected)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import streamlit as st

from mca_core import AuditEvent, InvitationEntry
from ui import attest_blocks as ab
from ui.i18n import t, tn
from ui.markup import md

from .context import AttestContext
from .existing import open_existing

# --- blocked customers -------------------------------------------------------------------------

BLOCKED_PAGE_SIZE = 20


def accepted_day(value: Any) -> date | None:
    """A snapshot row's latest agreement date as a UTC day (None when it has none)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return accepted_day(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def why_blocked(row: dict[str, Any]) -> str:
    """Not accepted, or must re-accept (last accepted on a day before the current MCA)."""
    day = accepted_day(row.get("latest_date_agreed"))
    if day is None:
        return t("status_not_accepted")
    return t("blocked_reaccept", date=day.isoformat())


def unblocks(event: AuditEvent, since: date) -> bool:
    """An attestation made since the sync unblocks its customer unless it is dated before the
    current MCA (then the customer must still accept the current one)."""
    day = str(event.inputs.get("date_agreed") or "")[:10]
    try:
        return date.fromisoformat(day) >= since
    except ValueError:  # no date recorded: taken as done, as before
        return True


def invited_text(entry: InvitationEntry | None) -> str:
    """The newest invitation as "2026-03-01 · Megan Bowen" (when, by whom), or "—"."""
    if entry is None:
        return "—"
    return t(
        "invited_on_by", date=entry.at.strftime("%Y-%m-%d"), who=entry.user_name or entry.user_id
    )


def render(ctx: AttestContext) -> None:
    if ctx.snapshot is None:
        ab.offer_sync(ctx.app, ctx.actor, key="bl_sync")
        return
    current_since = ctx.app.current_since
    blocked = ab.blocked_rows(ctx.synced, current_since)
    since = ctx.app.audit_events(
        ctx.identity,
        action=["attest", "bulk_attest", "finalise"],
        outcome=["attested", "already_attested"],
        since=ctx.snapshot.taken_at,
    )
    done = {e.customer_id for e in since if unblocks(e, current_since)}
    left = [r for r in blocked if r["customer_id"] not in done]
    day = current_since.isoformat()
    why = t("blocked_why_enhanced", date=day) if ctx.enhanced else t("blocked_why", date=day)
    st.warning(why, icon="⛔")
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
    invited = ctx.app.latest_invitations(ctx.identity)  # shared: one lookup a run
    widths = [4, 3, 3, 1.4, 3, 2]
    head = st.columns(widths)
    names = ("col_company", "col_domain", "col_status", "col_country", "col_invited", "col_action")
    for col, key in zip(head, names, strict=True):
        col.markdown(f"**{t(key)}**")
    start = (page - 1) * BLOCKED_PAGE_SIZE
    for row in left[start : start + BLOCKED_PAGE_SIZE]:
        cols = st.columns(widths, vertical_alignment="center")
        cols[0].markdown(md(row.get("company_name") or "—"))
        cols[1].markdown(md(row.get("domain") or ""))
        cols[2].markdown(why_blocked(row))
        cols[3].markdown(md(row.get("country") or ""))
        cols[4].markdown(invited_text(invited.get(row["customer_id"])))
        cols[5].button(
            t("blocked_send_link") if ctx.enhanced else t("blocked_attest"),
            key=f"bl_attest_{row['customer_id']}",
            on_click=open_existing,
            args=(ctx, row["customer_id"]),
            width="stretch",
        )
