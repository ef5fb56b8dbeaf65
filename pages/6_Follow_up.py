"""Follow-up: customers invited more than N days ago and still not accepted, with one-click
reminders for agents (a Manager reads the list). The blocks live in ui/follow_up.py."""

from __future__ import annotations

import streamlit as st

from mca_core import access
from ui import follow_up, session
from ui.guard import page_setup, require
from ui.i18n import t

page_setup("followup_title", icon="📬")
actor = require(access.check_may_view_follow_up)
app = session.app()

st.title(t("followup_title"))
st.caption(t("fu_caption"))
follow_up.render(app, actor)
