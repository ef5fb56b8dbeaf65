"""Links between pages that also work when a page runs as its own entrypoint (AppTest)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from .i18n import t

ROOT = Path(__file__).resolve().parent.parent

#: URL paths of the pages (classic multipage mode: the file name without its number prefix).
PAGE_PATHS = {
    "dashboard.py": "/",
    "pages/1_Overview.py": "/Overview",
    "pages/2_Attest.py": "/Attest",
    "pages/3_Verify.py": "/Verify",
    "pages/4_Invitations.py": "/Invitations",
    "pages/5_Audit.py": "/Audit",
    "pages/6_Follow_up.py": "/Follow_up",
    "pages/7_Alerts.py": "/Alerts",
}


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """st.page_link, or a plain link when the page is not reachable from this entrypoint."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"[{(icon + ' ') if icon else ''}{label}]({PAGE_PATHS.get(page, '/')})")


#: Sidebar entries: page file -> (title key, icon).
NAVIGATION = {
    "dashboard.py": ("nav_home", "🏠"),
    "pages/1_Overview.py": ("overview_title", "📊"),
    "pages/2_Attest.py": ("attest_title", "✍️"),
    "pages/3_Verify.py": ("verify_title", "🔎"),
    "pages/4_Invitations.py": ("invitations_title", "✉️"),
    "pages/5_Audit.py": ("audit_title", "📜"),
    "pages/6_Follow_up.py": ("followup_title", "📬"),
    "pages/7_Alerts.py": ("alerts_title", "🔔"),
}


#: Pages a read-only Manager is refused: not offered in the sidebar (they still guard).
MANAGER_HIDDEN = frozenset({"pages/2_Attest.py", "pages/4_Invitations.py", "pages/5_Audit.py"})


def sidebar_navigation(hidden: frozenset[str] = frozenset()) -> None:
    """The pages that exist, with translated titles, but `hidden` (each page still guards
    itself)."""
    for page, (key, icon) in NAVIGATION.items():
        if page not in hidden and (ROOT / page).is_file():
            page_link(page, t(key), icon=icon)
