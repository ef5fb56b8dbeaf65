"""Alerts from the dashboard, in a real browser: an agent refreshes on the Overview, the
dashboard (its own server process) delivers the alert to a real SMTP server and a Teams-like
webhook in this test process, the sidebar says where it went, and the Alerts page shows the
delivery log; a Manager reads that page and is offered no send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    App,
    app_env,
    dashboard,
    screenshot,
    signed_in,
    text,
    wait_for_app,
)
from tests.receivers import SmtpServer, Webhook

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[SmtpServer, Webhook]]:
    smtp, hook = SmtpServer().start(), Webhook().start()
    yield smtp, hook
    smtp.stop()
    hook.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, emulator_url: str, receivers) -> Iterator[App]:
    smtp, hook = receivers
    data_dir = tmp_path_factory.mktemp("alerts-desk")
    env = app_env(data_dir, emulator_url)
    env.update(smtp.env())
    env.update(
        MCA_ALERT_TO="ana.manager@contoso.example, zh-CN:li.lei@contoso.example",
        MCA_TEAMS_WEBHOOK_URL=hook.url,
        MCA_DELIVERY_BACKOFF_SECONDS="0",
    )
    with dashboard(data_dir, emulator_url, env) as app:
        yield app
    log = (data_dir / "streamlit.log").read_text(errors="replace")
    assert "Traceback" not in log and "secret-signature" not in log


def test_a_dashboard_sync_tells_the_managers_and_the_alerts_page_shows_it(
    browser, app: App, receivers
):
    smtp, hook = receivers
    context, page = signed_in(browser, app, "admin-agent")
    try:
        page.get_by_role("button", name=text("sync_now")).click()
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar).to_contain_text("Alerts sent (email, teams).", timeout=120_000)
        assert sorted(m["Content-Language"] for m in smtp.messages) == ["en", "zh-CN"]
        assert len(hook.cards) == 1
        page.goto(f"{app.url}/Alerts?{page.url.split('?', 1)[1]}")
        wait_for_app(page)
        main = page.get_by_test_id("stMain")
        expect(main).to_contain_text("Delivery log")
        expect(main).to_contain_text("ana.manager@contoso.example")
        expect(main).not_to_contain_text("secret-signature")
        expect(page.get_by_role("button", name="Send the alerts now")).to_be_visible()
        screenshot(page, "alerts-page-after-a-dashboard-sync")
    finally:
        context.close()

    context, page = signed_in(browser, app, "manager")
    try:
        page.goto(f"{app.url}/Alerts?{page.url.split('?', 1)[1]}")
        wait_for_app(page)
        main = page.get_by_test_id("stMain")
        expect(main).to_contain_text("Delivery log")
        expect(main).to_contain_text("an agent can send them now")
        expect(page.get_by_role("button", name="Send the alerts now")).to_have_count(0)
    finally:
        context.close()
