"""A reload of the browser keeps the sandbox user signed in (issue 10, item 7), and no page
walk logs a Streamlit deprecation (item 8).

The sign-in rides in the URL as a signed, short-lived token (`?as=`): a reload, or the same
URL opened in a new tab, signs the user in again; a tampered token shows the sign-in.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from mca_core import Role
from mca_core.emulator import SANDBOX_USERS
from tests.e2e.conftest import App, alert, open_page, text, wait_for_app
from ui.nav import MANAGER_HIDDEN, NAVIGATION, PAGE_PATHS
from ui.session import TOKEN_PARAM

pytestmark = pytest.mark.e2e

DEPRECATION = re.compile(r"deprecat|will be removed|removed after", re.IGNORECASE)


def token_in(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(TOKEN_PARAM)
    return values[-1] if values else None


def expect_token_in_url(page) -> str:
    page.wait_for_url(lambda url: token_in(url) is not None)
    token = token_in(page.url)
    assert token is not None
    return token


def expect_verify_page(page) -> None:
    expect(page.get_by_role("heading", name=text("verify_title"))).to_be_visible()
    expect(alert(page, "guard_sign_in")).to_have_count(0)


def test_a_reload_keeps_the_admin_agent_signed_in(new_page, app: App, browser):
    page = new_page("admin-agent")
    token = expect_token_in_url(page)
    assert token.startswith("admin-agent.")

    open_page(page, "verify_title")  # a sidebar link: the page puts the token back
    assert expect_token_in_url(page) == token
    expect_verify_page(page)

    page.reload()
    wait_for_app(page)
    expect_verify_page(page)
    assert token_in(page.url) == token

    # The same URL in a new tab (a new browser context: no cookie, no session) is signed in too.
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"{app.url}{PAGE_PATHS['dashboard.py']}?{TOKEN_PARAM}={token}")
        wait_for_app(tab)
        name = SANDBOX_USERS["admin-agent"].display_name
        expect(tab.get_by_test_id("stSidebar")).to_contain_text(name)
        expect(tab.get_by_test_id("stRadio")).to_have_count(0)  # no sign-in form
    finally:
        context.close()


def test_a_tampered_token_shows_the_sign_in(new_page, app: App):
    page = new_page("helpdesk-agent")
    token = expect_token_in_url(page)
    forged = token.replace("helpdesk-agent", "admin-agent", 1)  # another user, the same MAC
    page.goto(f"{app.url}{PAGE_PATHS['pages/3_Verify.py']}?{TOKEN_PARAM}={forged}")
    wait_for_app(page)
    expect(alert(page, "guard_sign_in")).to_be_visible()
    page.wait_for_url(lambda url: token_in(url) is None)  # the bad token is removed

    page.goto(f"{app.url}/?{TOKEN_PARAM}={forged}")
    wait_for_app(page)
    expect(page.get_by_role("button", name=text("sign_in_button"))).to_be_visible()


def test_sign_out_ends_the_reloadable_sign_in(new_page):
    page = new_page("sales-agent")
    expect_token_in_url(page)
    page.get_by_test_id("stSidebar").get_by_role("button", name=text("sign_out")).click()
    wait_for_app(page)
    page.wait_for_url(lambda url: token_in(url) is None)
    page.reload()
    wait_for_app(page)
    expect(page.get_by_role("button", name=text("sign_in_button"))).to_be_visible()


def test_walking_every_page_as_every_user_logs_no_deprecation(new_page, app: App):
    """The server's log (Streamlit logs its deprecations there, not as Python warnings)."""
    log = app.data_dir / "streamlit.log"
    start = log.stat().st_size
    for user in SANDBOX_USERS:
        page = new_page(user)
        # every page the sidebar offers the user (a Manager is not offered the pages it is
        # refused: Attest, Invitations, Audit)
        hidden = MANAGER_HIDDEN if SANDBOX_USERS[user].role is Role.MANAGER else frozenset()
        for file, (title_key, _) in NAVIGATION.items():
            if file not in hidden:
                open_page(page, title_key)
        sidebar = page.get_by_test_id("stSidebar")
        for file in hidden:
            expect(sidebar.get_by_role("link", name=text(NAVIGATION[file][0]))).to_have_count(0)
        page.context.close()
    with log.open("rb") as handle:
        handle.seek(start)
        written = handle.read().decode(errors="replace")
    assert not DEPRECATION.search(written), written[-5000:]
