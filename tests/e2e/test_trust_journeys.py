"""Issue 10 in a real browser: what only the browser shows. Customer names written like Markdown
render as text (no link, image, HTML, icon, colour or formula), a half-typed or cleared date is
never replaced by today, and Enter in the customer picker picks the best match."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    App,
    alert,
    choose,
    enter_date,
    fill_in,
    open_page,
    screenshot,
    sync_as,
    synced_rows,
    text,
    visible_panel,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

#: The names of issue 10: a Markdown link, an image, HTML, Streamlit's icon and colour syntax,
#: LaTeX. Each is created in Partner Center (the emulator), synced, and looked at.
HOSTILE = {
    "link": "[Microsoft login - verify now](https://evil.example/phish)",
    "image": "![logo](https://evil.example/x.png) Ltd",
    "html": "<b>Bold</b> <img src=x onerror=alert(1)> Co",
    "icon": ":material/warning: :red[Urgent] Co",
    "latex": "Price $x^2$ Co",
}


def _post(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
        headers["ms-requestid"] = str(uuid.uuid4())
        headers["ms-correlationid"] = str(uuid.uuid4())
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # loopback emulator only
        return json.loads(answer.read())


def create_hostile_customers(app: App) -> dict[str, str]:
    """As Partner Center may hold them (created by anyone, anywhere): kind -> domain."""
    token = _post(f"{app.emulator_url}/sandbox/token", {"user": "admin-agent"})["access_token"]
    domains = {}
    for kind, name in HOSTILE.items():
        prefix = f"md{kind}{uuid.uuid4().hex[:6]}"
        customer = _post(
            f"{app.emulator_url}/v1/customers",
            {
                "enableGDAPByDefault": False,
                "companyProfile": {"domain": f"{prefix}.onmicrosoft.com"},
                "billingProfile": {
                    "email": f"it@{prefix}.example",
                    "culture": "en-US",
                    "language": "en",
                    "companyName": name,
                    "defaultAddress": {
                        "firstName": "Jane",
                        "lastName": "Doe",
                        "addressLine1": "1 Main St",
                        "city": "Redmond",
                        "state": "WA",
                        "postalCode": "98052",
                        "country": "US",
                    },
                },
            },
            token,
        )
        domains[kind] = customer["companyProfile"]["domain"]
    sync_as(("admin-agent",), app.env)
    return domains


def assert_rendered_as_text(page: Any, name: str) -> None:
    """The name shows as its characters, and nothing of it became markup."""
    main = page.get_by_test_id("stMain")
    # what a reader sees: the characters (an invisible word joiner breaks `:name` patterns)
    assert name in main.inner_text().replace("\u2060", "")
    assert main.locator("a[href*='evil.example']").count() == 0
    assert main.locator("img[src*='evil.example'], img[src='x']").count() == 0
    assert main.locator("b:text('Bold')").count() == 0
    assert main.locator(".katex, .katex-display").count() == 0
    # (the page's own widgets draw icons too: only what Markdown rendered counts)
    assert (
        main.locator("[data-testid='stMarkdownContainer'] [data-testid='stIconMaterial']").count()
        == 0
    )
    coloured = "[data-testid='stMarkdownContainer'] span[class*='red'], [style*='color: rgb(255']"
    assert main.locator(coloured).count() == 0


def test_markdown_names_render_as_text_on_every_page(new_page, app: App):
    domains = create_hostile_customers(app)
    page = new_page("admin-agent")
    for kind, domain in domains.items():
        name = HOSTILE[kind]
        open_page(page, "verify_title")
        main = page.get_by_test_id("stMain")
        choose(page, main, text("customer_pick"), domain, typed=domain)
        expect(main.get_by_role("heading", level=3)).to_be_visible()
        assert main.get_by_role("heading", level=3).inner_text().replace("\u2060", "") == name
        assert_rendered_as_text(page, name)
        if kind == "link":
            screenshot(page, "trust-markdown-name-verify")
        open_page(page, "attest_title")
        panel = visible_panel(page)
        choose(page, panel, text("customer_pick"), domain, typed=domain)
        assert_rendered_as_text(page, name)
    page.get_by_role("tab", name=text("tab_blocked")).click()
    wait_for_app(page)
    for kind, domain in domains.items():
        fill_in(page, visible_panel(page), text("blocked_search"), domain)
        assert_rendered_as_text(page, HOSTILE[kind])
    fill_in(page, visible_panel(page), text("blocked_search"), ".onmicrosoft.com")
    screenshot(page, "trust-markdown-names-blocked")


def test_a_half_typed_date_is_an_error_never_today(new_page, app: App):
    row = next(r for r in synced_rows(app, "admin-agent") if r["accepted"] is False)
    page = new_page("admin-agent")
    open_page(page, "attest_title")
    panel = visible_panel(page)
    choose(page, panel, text("customer_pick"), row["domain"], typed=row["domain"])
    form = panel.get_by_test_id("stForm")
    fill_in(page, form, text("at_first_name"), "Mei", commit=False)
    fill_in(page, form, text("at_last_name"), "Lin", commit=False)
    fill_in(page, form, text("at_email"), "mei.lin@example.com", commit=False)
    enter_date(page, form, text("at_date_agreed"), "2025-03")  # the day left as "dd"
    form.get_by_role("button", name=text("ex_review_submit")).click()
    wait_for_app(page)
    expect(alert(page, "ex_not_attested")).to_contain_text("Acceptance date")
    expect(panel.get_by_role("button", name=text("ex_confirm"))).to_have_count(0)
    screenshot(page, "trust-date-half-typed")
    # a whole date leads to the statement to confirm, never straight to "Attested"
    today = datetime.now(UTC).date().isoformat()
    enter_date(page, form, text("at_date_agreed"), today)
    form.get_by_role("button", name=text("ex_review_submit")).click()
    wait_for_app(page)
    expect(panel).to_contain_text(f"on {today} (UTC)")
    expect(panel.get_by_role("button", name=text("ex_confirm"))).to_be_visible()
    expect(alert(page, "ex_attested")).to_have_count(0)


def test_enter_in_the_customer_picker_picks_the_best_match(new_page, app: App):
    rows = sorted(synced_rows(app, "admin-agent"), key=lambda r: r["company_name"].lower())
    target = next(r for r in rows if r["company_name"][:1].isalpha() and " " in r["company_name"])
    word = target["company_name"].split()[0]
    expected = next(r for r in rows if r["company_name"].casefold().startswith(word.casefold()))
    page = new_page("admin-agent")
    open_page(page, "verify_title")
    main = page.get_by_test_id("stMain")
    main.get_by_test_id("stSelectbox").locator("input").first.click()
    page.keyboard.type(word.lower())
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(main.get_by_role("heading", name=expected["company_name"])).to_be_visible()
    expect(main).not_to_contain_text("neither a tenant id nor a domain")
    screenshot(page, "trust-picker-enter")


def test_a_recipient_never_carries_over_to_the_next_customer(new_page, app: App):
    """Issue 10.2, seen in the browser: the Recipient survived a change of customer and Done."""
    rows = [r for r in synced_rows(app, "admin-agent") if r["accepted"] is False][:2]
    page = new_page("admin-agent")
    open_page(page, "invitations_title")
    panel = visible_panel(page)
    choose(page, panel, text("inv_customer"), rows[0]["domain"], typed=rows[0]["domain"])
    fill_in(page, panel, text("inv_to"), "cfo@first-customer.example")
    choose(page, panel, text("inv_customer"), rows[1]["domain"], typed=rows[1]["domain"])
    expect(panel.get_by_label(text("inv_to"), exact=True)).to_have_value("")
    fill_in(page, panel, text("inv_to"), "cfo@second-customer.example")
    panel.get_by_role("button", name=text("inv_generate")).click()
    wait_for_app(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="Check the recipient")).to_be_visible()
    screenshot(page, "trust-invitation-recipient-warning")
    panel.get_by_role("button", name=text("inv_done")).click()
    wait_for_app(page)
    expect(panel.get_by_label(text("inv_to"), exact=True)).to_have_value("")
    # and the next interaction does not send the old value back from the browser
    choose(page, panel, text("inv_customer"), rows[0]["domain"], typed=rows[0]["domain"])
    expect(panel.get_by_label(text("inv_to"), exact=True)).to_have_value("")
