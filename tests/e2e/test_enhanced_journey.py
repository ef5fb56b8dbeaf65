"""The enhanced attestation channel in a real browser: the partner creates the link on the
Attest page, the test plays the customer on the emulator's own acceptance page (served over
loopback, the real **Accept agreement** button), and the partner finalises.

This module runs its own standalone emulator and dashboard on production's defaults (the
enhanced channel; the emulator refuses the retired classic call), so the session-wide classic
tenant and its customers stay as the other journeys expect them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from mca_core.emulator import SANDBOX_USERS
from tests.e2e.conftest import (
    ROOT,
    App,
    app_env,
    choose,
    dashboard,
    fill_in,
    open_page,
    screenshot,
    standalone_emulator,
    synced_rows,
    text,
    visible_panel,
    wait_for_app,
)

pytestmark = pytest.mark.e2e


def plain(key: str, lang: str = "en", **params: Any) -> str:
    """A UI string as the browser shows it: Markdown's ** and ` markers gone."""
    return re.sub(r"\*\*|`", "", text(key, lang, **params))


def lead(key: str) -> str:
    """The text of a UI string before its first placeholder, as shown."""
    return plain(key).split("{", 1)[0].strip()


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own standalone emulator (overrides the session one)."""
    with standalone_emulator(tmp_path_factory.mktemp("enhanced-emulator")) as url:
        yield url


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Iterator[App]:
    """A dashboard on production's defaults (the enhanced channel, the classic call refused by
    the emulator) over this module's emulator."""
    data_dir = tmp_path_factory.mktemp("enhanced-desk")
    env = app_env(data_dir, emulator_url)
    done = subprocess.run(
        [sys.executable, "-m", "mca_core", "--as", "admin-agent", "sync"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"sync failed: {done.stderr[-2000:]}"
    with dashboard(data_dir, emulator_url, env) as app:
        yield app


def alert(page: Any, key: str) -> Any:
    return page.get_by_test_id("stAlert").filter(has_text=lead(key))


def test_the_customer_accepts_on_the_emulator_page_and_the_partner_finalises(
    new_page, browser, app: App
):
    row = sorted(
        (r for r in synced_rows(app, "admin-agent") if r["accepted"] is False),
        key=lambda r: r["customer_id"],
    )[0]
    company, domain = row["company_name"], row["domain"]
    page = new_page("admin-agent")
    channel = plain(
        "channel_in_use",
        label=text("channel_label"),
        channel=text("channel_enhanced"),
        help=text("channel_enhanced_help"),
    )
    expect(page.get_by_test_id("stMain")).to_contain_text(channel)

    # The partner: the signer's details, then the attestation and its link.
    open_page(page, "attest_title")
    panel = visible_panel(page)
    choose(page, panel, text("customer_pick"), domain, typed=domain)
    form = panel.get_by_test_id("stForm")
    expect(form.get_by_label(text("enh_company"), exact=True)).to_have_value(company)
    fill_in(page, form, text("enh_signer_first"), "Mei", commit=False)
    fill_in(page, form, text("enh_signer_last"), "Chen", commit=False)
    fill_in(page, form, text("enh_signer_email"), "mei.chen@example.com", commit=False)
    fill_in(page, form, text("enh_signer_phone"), "+1 425 555 0199", commit=False)
    form.get_by_role("button", name=text("enh_create")).click()
    wait_for_app(page)
    expect(alert(page, "enh_link_created")).to_be_visible()
    link = panel.get_by_test_id("stCode").filter(has_text="/mca/?attestationid=").inner_text()
    link = link.strip()
    assert link.startswith(f"{app.emulator_url}/mca/?attestationid="), link
    expect(panel).not_to_contain_text(lead("enh_link_unreachable"))  # a real page this time
    screenshot(page, "enhanced-link-created")

    # Too early: the customer has not accepted, the attestation is kept.
    panel.get_by_role("button", name=text("enh_finalise")).click()
    wait_for_app(page)
    expect(alert(page, "enh_not_accepted")).to_be_visible()

    # The customer: the link, no sign-in, the Accept agreement button.
    customer = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        tab = customer.new_page()
        tab.goto(link)
        expect(tab.get_by_role("heading", name="Microsoft Customer Agreement")).to_be_visible()
        expect(tab.locator("main")).to_contain_text(company)
        expect(tab.locator("main")).to_contain_text("Mei Chen")
        tab.screenshot(path=str(ROOT / "artifacts" / "screenshots" / "enhanced-customer-page.png"))
        tab.get_by_role("button", name="Accept agreement").click()
        expect(tab.get_by_role("heading", name="Thank you")).to_be_visible()
        expect(tab.locator("#accepted")).to_contain_text("accepted the Microsoft Customer")
        tab.goto(link)  # the link now says it is done
        expect(tab.get_by_role("heading", name="Agreement accepted")).to_be_visible()
    finally:
        customer.close()

    # The partner again: the status read finds the acceptance and, auto_finalise being on by
    # default, creates the agreement at once.
    panel.get_by_role("button", name=text("enh_check_status")).click()
    wait_for_app(page)
    expect(alert(page, "enh_auto_finalised")).to_be_visible()
    expect(panel).to_contain_text(text("enh_state_agreement_created"))
    expect(panel.get_by_role("button", name=text("enh_finalise"))).to_have_count(0)
    expect(page.get_by_test_id("stAlert").filter(has_text="Accepted").first).to_be_visible()
    screenshot(page, "enhanced-finalised")

    # The overview: the pipeline cards count the agreement.
    open_page(page, "overview_title")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=text("pipe_title"))).to_be_visible()
    expect(main).to_contain_text(f"{text('pipe_done')}: 1")
    screenshot(page, "enhanced-overview-pipeline")


def test_an_indirect_reseller_never_reaches_the_enhanced_path(new_page, app: App):
    page = new_page("indirect-reseller")
    open_page(page, "attest_title")
    expect(page.get_by_test_id("stMain")).to_contain_text("Indirect resellers can never attest")
    expect(page.get_by_label(text("enh_signer_first"), exact=True)).to_have_count(0)
    assert SANDBOX_USERS["indirect-reseller"].partner_type.value == "indirect_reseller"
