"""Links between pages that also work when a page runs as its own entrypoint (AppTest)."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

#: URL paths of the pages (classic multipage mode: the file name without its number prefix).
PAGE_PATHS = {
    "dashboard.py": "/",
    "pages/1_Overview.py": "/Overview",
    "pages/2_Attest.py": "/Attest",
    "pages/3_Verify.py": "/Verify",
    "pages/4_Invitations.py": "/Invitations",
    "pages/5_Audit.py": "/Audit",
}


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """st.page_link, or a plain link when the page is not reachable from this entrypoint."""
    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:
        st.markdown(f"[{(icon + ' ') if icon else ''}{label}]({PAGE_PATHS.get(page, '/')})")
