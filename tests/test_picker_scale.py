"""The synced list at scale (issue 14): one copy per process, shared by every session, and a
customer picker that sends at most PICKER_LIMIT customers to the browser while Enter still
searches them all."""

from __future__ import annotations

from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from mca_core.config import load_settings
from mca_core.emulator import SANDBOX_USERS
from mca_core.store.database import Store
from mca_core.usecases.sync import snapshot_scope
from ui import attest_blocks as ab

from .apptest import run
from .conftest import ROOT

VERIFY = str(ROOT / "pages" / "3_Verify.py")
SIZE = ab.PICKER_LIMIT + 500


def big_snapshot() -> None:
    rows = [
        {
            "customer_id": f"00000000-0000-4000-8000-{i:012d}",
            "company_name": f"Company {i:05d}",
            "domain": f"company{i}.onmicrosoft.com",
            "country": "DE",
            "accepted": i % 2 == 0,
            "attested": i % 2 == 0,
            "direct_signed": False,
            "latest_date_agreed": datetime(2025, 1, 1, tzinfo=UTC) if i % 2 == 0 else None,
        }
        for i in range(SIZE)
    ]
    store = Store(load_settings().resolved_store_url)
    scope = snapshot_scope(SANDBOX_USERS["admin-agent"].identity(), "sandbox")
    store.save_snapshot(rows, taken_by="test", scope=scope, mode="default", summary={})
    store.dispose()


def verify_page() -> AppTest:
    at = AppTest.from_file(VERIFY, default_timeout=90)
    at.session_state["sandbox_user_key"] = "admin-agent"
    return run(at)


def test_the_picker_lists_the_first_by_name_and_enter_finds_any_customer(sandbox_env):
    big_snapshot()
    at = verify_page()
    picker = at.selectbox(key="vf_customer")
    assert len(picker.options) == ab.PICKER_LIMIT
    capped = f"The first {ab.PICKER_LIMIT:,} of {SIZE:,} customers"
    assert any(capped in c.value for c in at.caption)
    last = f"Company {SIZE - 1:05d}"  # beyond the listed ones
    assert not any(last in o for o in picker.options)
    picker.options.append(last)  # what the browser sends when Enter picks "Add: <text>"
    at = run(picker.set_value(last))  # the best match among all of them
    chosen = at.session_state["vf_customer"]
    assert chosen == f"00000000-0000-4000-8000-{SIZE - 1:012d}"
    assert at.selectbox(key="vf_customer").options[0].startswith(last)


def test_every_session_shares_one_synced_list(sandbox_env):
    big_snapshot()
    first, second = verify_page(), verify_page()
    assert first.selectbox(key="vf_customer").options == second.selectbox(key="vf_customer").options
    from mca_core import App

    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    _, rows = ab.synced_customers(app, actor)
    again = ab.synced_customers(app, actor)[1]
    assert rows is again and isinstance(rows, ab.SyncedRows) and len(rows) == SIZE
    assert rows.picker is again.picker
    blocked = ab.blocked_rows(rows, app.current_since)
    assert blocked is ab.blocked_rows(again, app.current_since)
    assert len(blocked) == SIZE // 2


def test_the_invitations_page_holds_a_reference_to_the_shared_list_not_a_copy(sandbox_env):
    big_snapshot()
    sessions = []
    for _ in range(2):
        at = AppTest.from_file(str(ROOT / "pages" / "4_Invitations.py"), default_timeout=90)
        at.session_state["sandbox_user_key"] = "admin-agent"
        sessions.append(run(at))
    first, second = (at.session_state["inv_rows"][1] for at in sessions)
    assert first is second and isinstance(first, ab.SyncedRows) and len(first) == SIZE
    picker = sessions[0].selectbox(key="inv1_customer")
    assert len(picker.options) == ab.PICKER_LIMIT
