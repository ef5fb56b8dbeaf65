"""Audit: every attempt (success or failure) by anyone of the partner — who, role, action,
customer, outcome, request ids, time (UTC) — with filters and a CSV export. The store scrubs
secrets on the way in; this page shows what it holds and nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from mca_core import AuditEvent, access, reports
from ui import attest_blocks as ab
from ui import i18n, session
from ui.guard import page_setup, require
from ui.i18n import t, tn

#: Most events shown (and exported) at once; narrow the dates for older ones.
MAX_EVENTS = 20_000
FAILED = {"failed", "refused", "invalid", "cancelled"}

page_setup("audit_title", icon="📜")
actor = require(access.check_may_view_audit)
app = session.app()
identity = actor.identity

st.title(t("audit_title"))
st.caption(t("audit_intro"))

today = datetime.now(UTC).date()
top = st.columns([3, 2, 2, 2, 3])
span = top[0].date_input(
    t("audit_dates"),
    value=(today - timedelta(days=30), today),
    max_value=today,
    format="YYYY-MM-DD",
    key="au_dates",
)
start, end = (span[0], span[-1]) if isinstance(span, tuple) and span else (None, None)
events = app.audit_events(
    identity,
    viewer_id=identity.user_id,  # the viewer's own events from before partners were recorded
    since=datetime.combine(start, time.min, UTC) if start else None,
    until=datetime.combine(end, time.max, UTC) if end else None,
    limit=MAX_EVENTS,
)
users = {e.user_id: e.user_name or e.user_id for e in events}
chosen_users = top[1].multiselect(
    t("audit_user"),
    sorted(users, key=lambda u: users[u].casefold()),
    format_func=lambda u: users[u],
    key="au_users",
    placeholder=t("audit_anyone"),
)
chosen_actions = top[2].multiselect(
    t("audit_action"),
    sorted({e.action for e in events}),
    format_func=lambda a: ab.action_label(a),
    key="au_actions",
    placeholder=t("audit_any"),
)
chosen_outcomes = top[3].multiselect(
    t("audit_outcome"),
    sorted({e.outcome for e in events}),
    format_func=lambda o: ab.outcome_label(o),
    key="au_outcomes",
    placeholder=t("audit_any"),
)
text = (
    top[4]
    .text_input(t("audit_customer"), key="au_customer", placeholder=t("audit_customer_placeholder"))
    .strip()
    .casefold()
)

_, synced = ab.synced_customers(app, actor)


def company(customer_id: str | None) -> str:
    row = synced.get(customer_id or "")
    return str(row.get("company_name") or "") if row else ""


def matches(event: AuditEvent) -> bool:
    if chosen_users and event.user_id not in chosen_users:
        return False
    if chosen_actions and event.action not in chosen_actions:
        return False
    if chosen_outcomes and event.outcome not in chosen_outcomes:
        return False
    if text:
        row = synced.get(event.customer_id or "") or {}
        haystack = f"{event.customer_id or ''} {row.get('company_name') or ''} "
        haystack += f"{row.get('domain') or ''} {json.dumps(event.inputs, ensure_ascii=False)}"
        if text not in haystack.casefold():
            return False
    return True


shown = [e for e in events if matches(e)]


def legacy(event: AuditEvent) -> bool:
    """Recorded by an early version, without a partner (the store attributes it by its user)."""
    return not event.partner_tenant_id and bool(identity.partner_tenant_id)


records = [
    {
        "at_utc": e.at.strftime("%Y-%m-%d %H:%M:%S"),
        "user": e.user_name or e.user_id,
        "role": i18n.role_label(e.role, "en"),  # the export stays in English
        "action": e.action,
        "customer_id": e.customer_id or "",
        "company_name": company(e.customer_id),
        "outcome": e.outcome,
        "request_id": e.request_id or "",
        "correlation_id": e.correlation_id or "",
        "detail": (t("audit_legacy") if legacy(e) else "") + e.detail,
        "inputs": json.dumps(e.inputs, ensure_ascii=False, sort_keys=True) if e.inputs else "",
        "legacy": "yes" if legacy(e) else "",
    }
    for e in shown
]

counts = st.columns(4)
counts[0].metric(t("audit_events"), f"{len(shown):,}")
counts[1].metric(t("audit_failures"), f"{sum(e.outcome in FAILED for e in shown):,}")
counts[2].metric(t("audit_people"), f"{len({e.user_id for e in shown}):,}")
counts[3].metric(t("audit_customers"), f"{len({e.customer_id for e in shown if e.customer_id}):,}")
if len(events) >= MAX_EVENTS:
    st.warning(tn("audit_capped", MAX_EVENTS), icon="✂️")
if any(legacy(e) for e in shown):
    st.caption(tn("audit_legacy_note", sum(legacy(e) for e in shown)))

if not shown:
    st.info(t("audit_none"), icon="ℹ️")
    st.stop()

view = pd.DataFrame(
    [
        {
            **r,
            "mark": "⛔" if r["outcome"] in FAILED else "✅",
            "role": i18n.role_label(e.role),
            "action": ab.action_label(r["action"]),
            "outcome": ab.outcome_label(r["outcome"]),
            "customer": " · ".join(x for x in (r["company_name"], r["customer_id"]) if x),
        }
        for r, e in zip(records, shown, strict=True)
    ]
)
column = st.column_config.TextColumn
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    column_order=(
        "mark",
        "at_utc",
        "user",
        "role",
        "action",
        "customer",
        "outcome",
        "request_id",
        "correlation_id",
        "detail",
    ),
    column_config={
        "mark": column("", width="small"),
        "at_utc": column(t("audit_col_time")),
        "user": column(t("audit_col_user")),
        "role": column(t("audit_col_role")),
        "action": column(t("audit_col_action")),
        "customer": column(t("audit_col_customer"), width="medium"),
        "outcome": column(t("audit_col_outcome")),
        "request_id": column(t("col_request_id")),
        "correlation_id": column(t("audit_col_correlation")),
        "detail": column(t("audit_col_detail"), width="large"),
    },
)
stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
st.download_button(
    t("audit_download"),
    data=reports.export_table(records, "csv"),
    file_name=f"mca-audit-{stamp}.csv",
    mime=reports.MEDIA_TYPES["csv"],
    icon="⬇️",
    on_click="ignore",
    key="au_download",
)
