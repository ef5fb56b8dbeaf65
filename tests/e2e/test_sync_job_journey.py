"""A sync outlives the page that started it, in a real browser: one agent starts it and closes
the tab; a colleague of the same partner, in another browser session, sees it running in the
sidebar and then its result and the new numbers.

This module runs its own dashboard (no snapshot at start, the sync read customer by customer
under a low client rate limit so it takes some seconds) over the session's emulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from mca_core.emulator import SANDBOX_USERS
from tests.e2e.conftest import (
    CUSTOMERS,
    App,
    app_env,
    dashboard,
    screenshot,
    signed_in,
    text,
)

pytestmark = pytest.mark.e2e


def plain(key: str, **params: Any) -> str:
    return re.sub(r"\*\*|`", "", text(key, **params))


def lead(key: str) -> str:
    return plain(key).split("{", 1)[0].strip()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("sync-job-desk")
    env = app_env(data_dir, emulator_url)
    # ~1.5 calls a customer at 240 a minute: the sync takes half a minute
    env.update(MCA_SYNC_SOURCE="per_customer", MCA_RATE_LIMIT_PER_MINUTE="240")
    with dashboard(data_dir, emulator_url, env) as app:
        yield app
    log = data_dir / "streamlit.log"
    assert "Traceback" not in log.read_text(errors="replace")


def test_a_sync_started_in_one_session_finishes_after_its_tab_closed_and_shows_in_another(
    browser, app: App
):
    starter, page = signed_in(browser, app, "admin-agent")
    page.get_by_role("button", name=text("sync_now")).click()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stProgress")).to_be_visible()
    expect(main).to_contain_text("Reading acceptance")
    starter.close()  # the tab is gone; the sync is the server's

    colleague, other = signed_in(browser, app, "sales-agent")  # same partner
    try:
        sidebar = other.get_by_test_id("stSidebar")
        who = SANDBOX_USERS["admin-agent"].display_name
        expect(sidebar).to_contain_text(lead("sync_running"))
        expect(sidebar).to_contain_text(who)
        expect(sidebar.get_by_test_id("stProgress")).to_be_visible()
        screenshot(other, "sync-job-running-seen-by-a-colleague")
        # the fragment reloads the page when the sync ends: the result and the numbers
        # (other journeys share the emulator and create customers: at least CUSTOMERS)
        result = re.compile(r"Synced [\d,]+ customers")
        done = sidebar.get_by_test_id("stAlert").filter(has_text=result)
        expect(done).to_be_visible(timeout=120_000)
        synced = int(re.search(r"Synced ([\d,]+)", done.inner_text()).group(1).replace(",", ""))
        assert synced >= CUSTOMERS
        expect(other.get_by_test_id("stMetric").first).to_contain_text(f"{synced:,}")
        screenshot(other, "sync-job-result-seen-by-a-colleague")
    finally:
        colleague.close()
