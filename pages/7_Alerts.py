"""Alerts: where managers are told what changed, how, and whether it arrived. Agents and
managers see the channels (never a password or a webhook URL), what the next alert would say,
the delivery log with each failure's reason, and may send the pending alerts now."""

from __future__ import annotations

from datetime import UTC

import pandas as pd
import streamlit as st

from mca_core import McaError, NothingToReport, access
from ui import blocks, i18n, session
from ui.guard import page_setup, require
from ui.i18n import t, tn

page_setup("alerts_title", icon="🔔")
actor = require(access.check_may_view_alerts)
app = session.app()
identity = actor.identity
ss = st.session_state

st.title(t("alerts_title"))
st.caption(t("alerts_intro"))

channels = app.alert_channels()
settings = app.settings
left, right = st.columns(2)
with left, st.container(border=True):
    st.subheader(t("alerts_email"))
    if channels.email:
        st.success(t("alerts_email_on", server=channels.email_server, sender=channels.email_from))
        st.dataframe(
            pd.DataFrame(
                [{"to": r.address, "lang": i18n.LANGUAGES.get(r.locale, r.locale)} for r in
                 channels.recipients]
            ).rename(columns={"to": t("alerts_col_to"), "lang": t("alerts_col_language")}),
            hide_index=True,
            width="stretch",
        )  # fmt: skip
    else:
        st.info(t("alerts_email_off"))
with right, st.container(border=True):
    st.subheader(t("alerts_teams"))
    if channels.teams:
        st.success(t("alerts_teams_on", host=channels.teams_host))
    else:
        st.info(t("alerts_teams_off"))
for problem in channels.problems:
    st.warning(t("alerts_problem", problem=problem))
st.caption(
    t(
        "alerts_settings_line",
        after=t("alerts_yes") if settings.alerts_after_sync else t("alerts_no"),
        days=settings.alert_link_expiry_days,
        url=settings.dashboard_url,
    )
)

st.subheader(t("alerts_next"))
synced = app.latest_snapshot(identity) is not None
notice = None
try:
    notice = app.alerts_preview(actor) if synced else None
except McaError as exc:
    st.error(t("alerts_failed", error=str(exc)))
if not synced:
    st.caption(t("alerts_no_sync"))
elif notice is None:
    st.caption(t("alerts_nothing_new"))
else:
    rendered = app.render_alert(notice, i18n.language())
    st.markdown(t("alerts_next_subject", subject=rendered.subject))
    with st.expander(t("alerts_next_body"), expanded=False):
        st.text(rendered.text)
may_send = blocks.may_send_alerts(identity)
send = may_send and st.button(
    t("alerts_send_now"),
    key="al_send",
    icon="📨",
    disabled=not channels.any or not synced,
    help=None if channels.any else t("alerts_send_disabled"),
)
if not may_send:
    st.caption(t("alerts_manager_reads"))
if send:
    with st.spinner(t("alerts_sending")):
        try:
            ss["al_outcome"] = app.notify(actor).as_dict()
        except McaError as exc:
            ss["al_outcome"] = {"error": str(exc)}
outcome = ss.get("al_outcome")
if outcome:
    if "error" in outcome:
        st.error(t("alerts_failed", error=outcome["error"]))
    else:
        if outcome["delivered"]:
            st.success(
                tn("alerts_delivered", len(outcome["delivered"]),
                   channels=", ".join(sorted({d["channel"] for d in outcome["delivered"]})))
            )  # fmt: skip
        elif not outcome["failed"]:
            st.info(t("alerts_nothing_sent"))
        for failure in outcome["failed"]:
            where = failure["channel"] + (f" ({failure['to']})" if failure["to"] else "")
            key = "alerts_dropped" if failure["dropped"] else "alerts_not_delivered"
            st.warning(t(key, channel=where, reason=failure["reason"]))

st.subheader(t("alerts_log"))
items = app.alert_outbox(identity, limit=100)
if not items:
    st.caption(t("alerts_log_empty"))
else:
    STATUS = {"sent": t("alerts_status_sent"), "pending": t("alerts_status_pending"),
              "sending": t("alerts_status_sending"),
              "dropped": t("alerts_status_dropped")}  # fmt: skip
    frame = pd.DataFrame(
        [
            {
                t("alerts_col_created"): i.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                t("alerts_col_channel"): f"{i.channel} ({i.target})" if i.target else i.channel,
                t("alerts_col_status"): STATUS.get(i.status, i.status),
                t("alerts_col_what"): "; ".join(
                    f"{a['count']:,} {t('alert_kind_' + a['kind'])}"
                    for a in i.notice.get("alerts", [])
                ),
                t("alerts_col_attempts"): i.attempts,
                t("alerts_col_sent"): i.sent_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
                if i.sent_at
                else "",
                t("alerts_col_error"): i.last_error,
                t("alerts_col_by"): i.created_by,
            }
            for i in items
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    pending = sum(1 for i in items if i.status in ("pending", "sending"))
    if pending:
        st.caption(tn("alerts_pending", pending))

st.subheader(t("digest_title"))
st.caption(t("digest_intro"))
period = st.radio(
    t("digest_period"),
    ["week", "day"],
    format_func=lambda p: t("digest_period_" + p),
    horizontal=True,
    key="al_period",
)
try:
    digest = app.digest(actor, period)
except NothingToReport:
    digest = None
    st.caption(t("digest_nothing"))
if digest is not None:
    letter = app.digest_email(digest, i18n.language())
    st.markdown(t("alerts_next_subject", subject=letter.subject))
    st.image(letter.chart_png, width=560)
    with st.expander(t("alerts_next_body"), expanded=False):
        st.text(letter.text)
    left, right = st.columns([1, 1])
    left.download_button(
        t("digest_download"),
        data=bytes(letter.message()),
        file_name=f"mca-digest-{period}-{digest.end:%Y%m%d}.eml",
        mime="message/rfc822",
        key="al_digest_eml",
        icon="⬇️",
    )
    if may_send and right.button(
        t("digest_send"), key="al_digest_send", icon="📨", disabled=not channels.any
    ):
        with st.spinner(t("alerts_sending")):
            try:
                sent = app.send_digest(actor, period)
            except McaError as exc:
                st.error(t("alerts_failed", error=str(exc)))
            else:
                if sent.sent:
                    st.success(
                        t("digest_sent", channels=", ".join(sorted({d.channel for d in sent.sent})))
                    )
                for failure in sent.failed:
                    st.warning(t("digest_not_delivered", channel=failure.channel,
                                 reason=failure.reason))  # fmt: skip
