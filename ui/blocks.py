"""Page blocks several pages share: the acceptance headline, a sync button, page links."""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from mca_core import AccessRefused, Actor, App, Identity, McaError, SyncRequest, access

from . import nav
from .i18n import t, tn

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


def may_sync(identity: Identity) -> bool:
    """Agents (and managers, who hold an agent role here) may refresh; the use case agrees."""
    try:
        access.check_may_sync(identity)
    except AccessRefused:
        return False
    return True


def run_sync_with_progress(app: App, actor: Actor, *, incremental: bool = True) -> None:
    """A sync with a progress bar. Leaving the page (or any rerun) mid-way stops the sync at
    once but keeps what it fetched: the snapshot is saved marked incomplete, and the pages say
    so the next time (before, the work was dropped silently)."""
    bar = st.progress(0.0, text=t("sync_starting"))
    cancel = threading.Event()
    left: list[ScriptControlException] = []

    def progress(done: int, total: int, phase: str) -> None:
        if left:
            return
        try:
            if phase == "listing":
                bar.progress(0.0, text=t("sync_listing", total=total))
            else:
                bar.progress(
                    done / total if total else 1.0, text=tn("sync_progress", total, done=done)
                )
        except ScriptControlException as exc:  # the user left or reran the page
            left.append(exc)
            cancel.set()

    try:
        summary = app.sync(
            actor, SyncRequest(incremental=incremental, progress=progress, cancel=cancel)
        )
    except McaError as exc:
        if left:
            raise left[0] from None
        bar.empty()
        st.error(t("sync_failed", error=str(exc)))
        return
    if left:
        raise left[0]
    bar.empty()
    st.success(
        tn(
            "sync_done",
            summary.customers,
            accepted=summary.accepted,
            reaccept=summary.reacceptance_required,
            failed=summary.failed,
            calls=summary.api_calls,
            seconds=summary.seconds,
        )
    )


def acceptance_headline(app: App, actor: Actor) -> None:
    snap = app.latest_snapshot(actor.identity)
    if snap is None:
        st.info(t("no_snapshot"))
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
