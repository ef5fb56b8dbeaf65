"""Page blocks several pages share: the acceptance headline, a sync button, page links."""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import UTC
from pathlib import Path
from typing import Any

import streamlit as st

from mca_core import (
    AccessRefused,
    Actor,
    App,
    Identity,
    Job,
    McaError,
    Role,
    SyncRequest,
    access,
)

from . import nav
from .i18n import t, tn

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


def may_sync(identity: Identity) -> bool:
    """Agents may refresh (a Manager, read-only, may not); the use case agrees."""
    try:
        access.check_may_sync(identity)
    except AccessRefused:
        return False
    return True


def may_send_alerts(identity: Identity) -> bool:
    """Agents may send the alerts now (a Manager reads them); the use case agrees."""
    try:
        access.check_may_send_alerts(identity)
    except AccessRefused:
        return False
    return True


def is_manager(identity: Identity) -> bool:
    """The desk's read-only Manager: offered no button that changes anything."""
    return identity.role_known and identity.role is Role.MANAGER


def read_only_note(identity: Identity, where: Any = st) -> None:
    """In place of the sync button a Manager is not offered: who to ask instead."""
    if is_manager(identity):
        where.caption(t("manager_read_only_sync"))


#: When this session first showed each finished sync's result (job id -> monotonic seconds).
SEEN_JOBS_KEY = "sync_jobs_seen"
#: How long a finished sync's result stays in a session's sidebar.
RESULT_SHOWN_S = 60.0


def run_sync_with_progress(app: App, actor: Actor, *, incremental: bool = True) -> None:
    """Start the partner's sync as a background job of the server and follow it with a
    progress bar. The sync is not the page's: leaving the page, reloading or closing the tab
    does not stop it, every session of the partner sees it in the sidebar, and a second start
    joins the running one. Its result shows on the next run (the callers rerun)."""
    try:
        started = app.start_sync(
            actor, SyncRequest(incremental=incremental, notify=app.should_notify())
        )
    except McaError as exc:
        st.error(t("sync_failed", error=str(exc)))
        return
    job = started.job
    if not started.started:
        st.info(t("sync_joined", who=job.started_by, since=_hhmm(job)))
    bar = st.progress(0.0, text=t("sync_starting"))
    while not job.wait(0.3):  # leaving the page raises here; the job goes on
        _draw_progress(bar, job)
    bar.empty()


def _hhmm(job: Job) -> str:
    return job.started_at.astimezone(UTC).strftime("%H:%M UTC")


def _draw_progress(bar: Any, job: Job) -> None:
    p = job.progress
    if p.phase == "listing":
        bar.progress(0.0, text=t("sync_listing", total=p.total))
    elif p.total:
        bar.progress(p.fraction or 0.0, text=tn("sync_progress", p.total, done=p.done))
    else:
        bar.progress(0.0, text=t("sync_starting"))


def sync_activity(app: App, actor: Actor) -> None:
    """The partner's sync in the sidebar of every page: its progress while it runs (polled by a
    fragment, which reloads the page when the sync ends) and its result once per session."""
    job = app.sync_job(actor.identity)
    if job is None:
        return
    with st.sidebar:
        if job.running:
            _running_sync(app, actor.identity, job.id, "sidebar")
        else:
            # shown for a while in each session (the reruns that follow the end of a sync
            # must not hide it at once), then not again
            seen: dict[str, float] = st.session_state.setdefault(SEEN_JOBS_KEY, {})
            first = seen.setdefault(job.id, time.monotonic())
            if time.monotonic() - first < RESULT_SHOWN_S:
                sync_result(job)


@st.fragment(run_every=1.0)
def _running_sync(app: App, identity: Identity, job_id: str, where: str) -> None:
    job = app.sync_job(identity)
    if job is None or job.id != job_id or not job.running:
        st.rerun()  # the sync ended: the whole page again, on the new snapshot
        return
    st.caption(t("sync_running", who=job.started_by, since=_hhmm(job)))
    _draw_progress(st.progress(0.0), job)
    if may_sync(identity) and st.button(t("sync_stop"), key=f"sync_stop_{where}_{job.id}"):
        job.request_cancel()


def sync_result(job: Job) -> None:
    """What a finished sync did, or why it failed (escaped: the error quotes Partner Center)."""
    summary = job.result
    if job.state == "failed" or summary is None:
        st.error(t("sync_failed", error=job.error or ""))
        return
    text = tn(
        "sync_done",
        summary.customers,
        accepted=summary.accepted,
        reaccept=summary.reacceptance_required,
        failed=summary.failed,
        calls=summary.api_calls,
        seconds=summary.seconds,
    )
    if summary.finalised:
        text += " " + tn("sync_finalised_first", summary.finalised)
    if job.state == "cancelled" or not summary.complete:
        st.warning(text + " " + t("sync_incomplete"))
    else:
        st.success(text)
    told = getattr(summary, "alerts", None)
    if told:
        if told["delivered"]:
            st.caption(
                t(
                    "sync_alerts_sent",
                    channels=", ".join(sorted({d["channel"] for d in told["delivered"]})),
                )
            )
        for failure in told["failed"]:
            where = (
                f"{failure['channel']} ({failure['to']})"
                if failure.get("to")
                else (failure["channel"])
            )
            st.warning(t("sync_alerts_not_delivered", channel=where, reason=failure["reason"]))


def first_sync_running(app: App, actor: Actor) -> bool:
    """No snapshot yet and a sync running: its progress in place of the empty page (the
    fragment reloads the page on the new snapshot when it ends)."""
    job = app.sync_job(actor.identity)
    if job is None or not job.running:
        return False
    st.info(t("sync_first_running"), icon="⏳")
    _running_sync(app, actor.identity, job.id, "main")
    return True


def first_snapshot(app: App, actor: Actor) -> None:
    """The sandbox opens on data: with no snapshot yet, its first sync starts by itself (the
    embedded emulator has no rate limit; the records take a few calls). Asked once a session
    and user, not on every run of every page (it reads the store)."""
    asked = st.session_state.setdefault("first_snapshot_asked", set())
    if actor.identity.user_id in asked:
        return
    asked.add(actor.identity.user_id)
    with suppress(McaError):  # the sync button stays, and says why when pressed
        app.open_sandbox_on_data(actor)


def acceptance_headline(app: App, actor: Actor) -> None:
    snap = app.latest_snapshot(actor.identity)
    if snap is None and first_sync_running(app, actor):
        return
    if snap is None:
        st.info(t("no_snapshot"))
        read_only_note(actor.identity)
        if may_sync(actor.identity) and st.button(t("sync_now"), type="primary"):
            run_sync_with_progress(app, actor, incremental=False)
            st.rerun()
        return
    s = snap.summary
    customers = int(s.get("customers") or 0)
    accepted = int(s.get("accepted") or 0)
    # a snapshot from before the desk knew the MCA refresh does not count them: "—"
    known = "reacceptance_required" in s
    reaccept = f"{int(s.get('reacceptance_required') or 0):,}" if known else "—"
    not_accepted = int(s.get("not_accepted") or 0)
    cols = st.columns(5)
    cols[0].metric(t("kpi_customers"), f"{customers:,}")
    cols[1].metric(t("kpi_accepted"), f"{accepted:,}")
    cols[2].metric(
        t("kpi_reacceptance_required"),
        reaccept,
        help=t("kpi_reacceptance_required_help", date=app.current_since.isoformat()),
    )
    cols[3].metric(t("kpi_not_accepted"), f"{not_accepted:,}")
    rate = f"{accepted / customers:.1%}" if customers else "—"
    cols[4].metric(t("kpi_rate"), rate)
    st.caption(t("synced_at", when=snap.taken_at.strftime("%Y-%m-%d %H:%M"), who=snap.taken_by))
    if not snap.complete:
        st.warning(t("sync_incomplete"))
    if may_sync(actor.identity) and st.button(t("sync_refresh")):
        run_sync_with_progress(app, actor, incremental=True)
        st.rerun()


PAGE_TITLE_KEYS = {
    "1_Overview.py": "overview_title",
    "2_Attest.py": "attest_title",
    "3_Verify.py": "verify_title",
    "4_Invitations.py": "invitations_title",
    "5_Audit.py": "audit_title",
}


def page_title(file_name: str) -> str:
    key = PAGE_TITLE_KEYS.get(file_name)
    return t(key) if key else file_name.split("_", 1)[-1].removesuffix(".py")


def page_links(identity: Identity) -> None:
    """Links to the pages that exist; each page still guards itself."""
    pages = sorted(p for p in PAGES_DIR.glob("*.py")) if PAGES_DIR.is_dir() else []
    st.markdown(f"### {t('pages')}")
    if not pages:
        st.caption(t("pages_none_yet"))
        return
    for page in pages:
        nav.page_link(f"pages/{page.name}", page_title(page.name))
