"""The Follow-up page's blocks: the days filter, the list of customers invited and still not
accepted, its download, and the one-click reminders (agents only; a Manager reads the list).

A reminder is generated through `App.send_reminder` (the same invitation again, to the same
recipient and language): sent from the desk when SMTP is configured, else offered as a .eml
download. What each reminder did stays on the page (this session) until the user clears it; a
reminded customer leaves the list, since its newest invitation is now today's.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from mca_core import (
    AccessRefused,
    Actor,
    App,
    Email,
    FollowUpItem,
    InvalidInput,
    McaError,
    access,
    invitations,
    reports,
)
from ui.i18n import problem_text, refusal_text, t, t_plain, tn
from ui.markup import Markdown, md

PAGE_SIZE = 20
#: Session key: customer id -> (ok, sentence, email to download or None).
OUTCOMES_KEY = "fu_outcomes"
KIND_KEYS = {
    "mca_new": "fu_kind_mca",
    "mca_existing": "fu_kind_mca",
    "reseller": "fu_kind_reseller",
    "provider_request": "fu_kind_provider",
    "enhanced_acceptance": "fu_kind_enhanced",
}


def may_remind(actor: Actor) -> bool:
    """Agents send reminders (the invitation checks); a Manager only reads the list."""
    try:
        access.check_may_invite_to_accept(actor.identity)
    except AccessRefused:
        return False
    return True


def days_filter(app: App) -> int:
    return int(
        st.columns([1, 3])[0].number_input(
            t("fu_days"),
            min_value=0,
            max_value=365,
            value=int(app.settings.follow_up_after_days),
            step=1,
            key="fu_days",
            help=t("fu_days_help"),
        )
    )


def state_text(state: str) -> str:
    return t_plain(f"status_{state}")


def kind_text(kind: str) -> str:
    return t_plain(KIND_KEYS.get(kind, "fu_kind_mca"))


def table_frame(items: list[FollowUpItem]) -> pd.DataFrame:
    """The list as shown and exported: plain text cells (never Markdown)."""
    return pd.DataFrame(
        {
            "company": [i.company_name for i in items],
            "domain": [i.domain for i in items],
            "state": [state_text(i.state) for i in items],
            "kind": [kind_text(i.kind) for i in items],
            "recipient": [i.recipient or "—" for i in items],
            "locale": [i.locale for i in items],
            "invited_on": [i.invited_at.strftime("%Y-%m-%d") for i in items],
            "invited_by": [i.invited_by for i in items],
            "days": [i.days for i in items],
            "customer_id": [i.customer_id for i in items],
        }
    )


def export_frame(items: list[FollowUpItem]) -> pd.DataFrame:
    """Stable English column names and raw values for the CSV."""
    return pd.DataFrame(
        {
            "customer_id": [i.customer_id for i in items],
            "company_name": [i.company_name for i in items],
            "domain": [i.domain for i in items],
            "state": [i.state for i in items],
            "kind": [i.kind for i in items],
            "recipient": [i.recipient for i in items],
            "locale": [i.locale for i in items],
            "invited_at": [i.invited_at.isoformat() for i in items],
            "invited_by": [i.invited_by for i in items],
            "days_since": [i.days for i in items],
            "how": [i.how for i in items],
        }
    )


def list_table(items: list[FollowUpItem], days: int) -> None:
    st.dataframe(
        table_frame(items).drop(columns=["customer_id"]),
        hide_index=True,
        width="stretch",
        key="fu_table",
        column_config={
            "company": t("col_company"),
            "domain": t("col_domain"),
            "state": t("col_acceptance"),
            "kind": t("fu_col_kind"),
            "recipient": t("fu_col_recipient"),
            "locale": t("fu_col_locale"),
            "invited_on": t("col_invited_on"),
            "invited_by": t("col_invited_by"),
            "days": t("fu_col_days"),
        },
    )
    st.download_button(
        t("fu_download"),
        data=lambda: reports.export_table(export_frame(items), "csv"),
        file_name=f"mca-follow-up-{days}d.csv",
        mime=reports.MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="fu_download",
    )


def _error_text(exc: McaError) -> Markdown:
    if isinstance(exc, InvalidInput):
        return Markdown(" ".join(problem_text(p) for p in exc.problems))
    if isinstance(exc, AccessRefused):
        return Markdown(refusal_text(exc))
    return md(str(exc))


def remind(app: App, actor: Actor, customer_id: str, company: str) -> None:
    """One reminder (a button's callback): generated, then sent or offered as a .eml."""
    outcomes: dict[str, Any] = st.session_state.setdefault(OUTCOMES_KEY, {})
    try:
        email, result = app.send_reminder(actor, customer_id)
    except McaError as exc:
        outcomes[customer_id] = (
            False,
            t("fu_remind_failed", company=company, error=_error_text(exc)),
            None,
        )
        return
    if result is None:
        outcomes[customer_id] = (True, t("fu_remind_written", company=company), email)
    elif result.sent:
        outcomes[customer_id] = (True, t("fu_remind_sent", company=company, to=email.to), None)
    else:
        why = _error_text(result.error) if result.error is not None else md(result.reason)
        outcomes[customer_id] = (
            False,
            t("fu_remind_not_sent", company=company, to=email.to, reason=why),
            result.email,
        )


def outcomes_section() -> None:
    """What this session's reminders did, each with its .eml when it was not sent."""
    outcomes: dict[str, Any] = st.session_state.get(OUTCOMES_KEY) or {}
    if not outcomes:
        return
    st.subheader(t("fu_reminders"))
    for customer_id, (ok, text, email) in list(outcomes.items()):
        cols = st.columns([4, 1], vertical_alignment="center")
        (cols[0].success if ok else cols[0].error)(text, icon="📨" if ok else "⛔")
        if isinstance(email, Email):
            cols[1].download_button(
                t("inv_download"),
                data=invitations.eml_for(email),
                file_name=invitations.eml_file_name(email),
                mime="message/rfc822",
                icon="⬇️",
                on_click="ignore",
                key=f"fu_eml_{customer_id}",
            )
    if st.button(t("fu_clear"), key="fu_clear"):
        st.session_state.pop(OUTCOMES_KEY, None)
        st.rerun()


def reminder_rows(app: App, actor: Actor, items: list[FollowUpItem]) -> None:
    """The list again, a page at a time, with a reminder button per customer."""
    st.subheader(t("fu_remind_title"))
    st.caption(t("fu_remind_caption_send") if app.email_configured else t("fu_remind_caption_eml"))
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = 1
    if pages > 1:
        page = int(st.number_input(t("blocked_page", pages=pages), 1, pages, 1, key="fu_page"))
    widths = [4, 4, 2, 2]
    head = st.columns(widths)
    for col, key in zip(
        head, ("col_company", "fu_col_recipient", "fu_col_days", "col_action"), strict=True
    ):
        col.markdown(f"**{t(key)}**")
    start = (page - 1) * PAGE_SIZE
    for item in items[start : start + PAGE_SIZE]:
        cols = st.columns(widths, vertical_alignment="center")
        cols[0].markdown(md(item.company_name or item.customer_id))
        cols[1].markdown(md(item.recipient or "—"))
        cols[2].markdown(md(str(item.days)))
        if item.reminder_kind is None:
            cols[3].caption(t("fu_no_reminder"))
            continue
        cols[3].button(
            t("fu_remind"),
            key=f"fu_remind_{item.customer_id}",
            icon="🔔",
            on_click=remind,
            args=(app, actor, item.customer_id, item.company_name or item.customer_id),
            width="stretch",
        )


#: Session key: the "remind all" job whose result this session showed (id), and that result.
BULK_KEY = "fu_bulk"


def remind_all(app: App, actor: Actor, items: list[FollowUpItem]) -> None:
    """Remind all by email: a job of the server (leaving the page does not stop it; a
    colleague sees it here), with progress, then how many were sent and what failed."""
    ids = [i.customer_id for i in items if i.reminder_kind is not None]
    job = app.job(actor.identity, "reminders")
    if job is not None and job.running:
        _follow(job)
    elif ids and st.button(
        tn("fu_remind_all", len(ids)), key="fu_remind_all", icon="📨", type="primary"
    ):
        try:
            job = app.start_reminders(actor, ids).job
        except McaError as exc:
            st.error(_error_text(exc))
            return
        _follow(job)


def remind_all_result(app: App, actor: Actor) -> None:
    """What the last "remind all" did (shown even when nobody is left to follow up)."""
    job = app.job(actor.identity, "reminders")
    if job is not None and not job.running and job.result is not None:
        seen = st.session_state.setdefault(BULK_KEY + "_seen", set())
        if job.id not in seen:  # a colleague's run too, once
            seen.add(job.id)
            st.session_state[BULK_KEY] = job.result
    results = st.session_state.get(BULK_KEY)
    if results:
        sent = sum(1 for r in results if r.outcome == "sent")
        failed = [r for r in results if r.outcome == "failed"]
        written = sum(1 for r in results if r.outcome == "written")
        st.success(t("fu_remind_all_done", sent=sent, failed=len(failed), written=written))
        if failed:
            st.dataframe(
                pd.DataFrame(
                    [{t_plain("col_company"): r.company_name or r.customer_id,
                      t_plain("fu_col_recipient"): r.to, t_plain("fu_col_reason"): r.reason}
                     for r in failed]
                ),
                hide_index=True,
            )  # fmt: skip


def _follow(job: Any) -> None:
    bar = st.progress(0.0, text=t("fu_remind_all_running", who=job.started_by))
    while not job.wait(0.3):  # leaving the page raises here; the job goes on
        p = job.progress
        if p.total:
            bar.progress(p.done / p.total, text=tn("bulk_progress", p.total, done=p.done))
    bar.empty()
    st.rerun()


def render(app: App, actor: Actor) -> None:
    identity = actor.identity
    days = days_filter(app)
    if app.latest_snapshot(identity) is None:
        st.info(t("fu_no_snapshot"))
        return
    outcomes_section()
    if may_remind(actor):
        remind_all_result(app, actor)
    try:
        items = app.follow_up(identity, days)
    except McaError as exc:
        st.error(_error_text(exc))
        return
    if not items:
        st.success(t("fu_none", days=days), icon="✅")
        return
    st.metric(t("fu_count"), f"{len(items):,}")
    list_table(items, days)
    if may_remind(actor):
        if app.email_configured:
            remind_all(app, actor, items)
        reminder_rows(app, actor, items)
    else:
        st.caption(t("fu_read_only"))
