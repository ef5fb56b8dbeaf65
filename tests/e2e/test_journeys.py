"""Journeys through the dashboard in a real browser, each as the seeded user who does it.

Admin agent (Contoso, direct bill): sign in and every page, the overview, a new customer, the
invitation emails. Sales agent: attest an existing customer. Helpdesk agent: verify. Indirect
provider's Admin agent (Fabrikam): bulk CSV, the reseller relationship request. Indirect reseller
(Northwind): no attest action, the request to its provider. Nobody: every URL opened directly.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from mca_core.domain.models import MCA_ACCEPTANCE_URL
from mca_core.emulator import PARTNERS, SANDBOX_USERS
from tests.e2e.conftest import (
    App,
    alert,
    choose,
    choose_language,
    csv_rows,
    download,
    enter_date,
    fill_in,
    lead,
    metric_value,
    open_page,
    parse_eml,
    screenshot,
    synced_rows,
    text,
    visible_panel,
    wait_for_app,
)
from ui.nav import NAVIGATION, PAGE_PATHS

pytestmark = pytest.mark.e2e

PAGE_TITLES = [key for key, _ in NAVIGATION.values() if key != "nav_home"]


# --- journeys --------------------------------------------------------------------------------


def test_sign_in_and_every_page(new_page):
    page = new_page()
    expect(page.get_by_role("heading", name=text("sign_in_title"))).to_be_visible()
    screenshot(page, "home-signed-out")

    page = new_page("admin-agent")
    user = SANDBOX_USERS["admin-agent"]
    main = page.get_by_test_id("stMain")
    for shown in (user.display_name, user.role.label, user.partner_name, text("backend_sandbox")):
        expect(main).to_contain_text(shown)
    expect(alert(page, "may_attest_yes")).to_be_visible()
    expect(main).to_contain_text(text("headline"))
    screenshot(page, "home-admin-agent")
    for title in PAGE_TITLES:
        open_page(page, title)
        expect(page.get_by_role("heading", name=text(title)).first).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        screenshot(page, f"page-{title.removesuffix('_title')}")

    choose_language(page, "zh-CN")
    for title in ["nav_home", *PAGE_TITLES]:
        open_page(page, title, "zh-CN")
        heading = text("app_title" if title == "nav_home" else title, "zh-CN")
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        screenshot(page, f"zh-{title.removesuffix('_title').removeprefix('nav_')}")

    choose_language(page, "en")
    open_page(page, "nav_home")
    page.get_by_test_id("stSidebar").get_by_role("button", name=text("sign_out")).click()
    wait_for_app(page)
    expect(page.get_by_role("button", name=text("sign_in_button"))).to_be_visible()


def test_overview_charts_and_table_filters(new_page):
    page = new_page("admin-agent")
    open_page(page, "overview_title")
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(3)
    for index in range(3):
        expect(charts.nth(index).locator(".main-svg").first).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(10)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    total = int(metric_value(page, text("kpi_customers")))
    at_risk = int(metric_value(page, text("kpi_at_risk")))
    not_accepted = int(metric_value(page, text("kpi_not_accepted")))
    reaccept = int(metric_value(page, text("kpi_reacceptance_required")))
    assert 0 < not_accepted < at_risk == not_accepted + reaccept < total
    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text(text("filter_showing", shown=total, n=total))
    screenshot(page, "overview")

    choose(page, main, text("filter_status"), text("status_not_accepted"))
    page.keyboard.press("Escape")
    expect(main).to_contain_text(text("filter_showing", shown=not_accepted, n=total))
    name, data = download(page, page.get_by_role("button", name=text("download_csv")))
    assert name.endswith(".csv")
    rows = csv_rows(data)
    assert len(rows) == not_accepted
    assert {row["status"] for row in rows} == {"not_accepted"}
    screenshot(page, "overview-not-accepted")

    domain = rows[0]["domain"]
    fill_in(page, main, text("filter_text"), domain)
    expect(main).to_contain_text(text("filter_showing", shown=1, n=total))
    _, data = download(page, page.get_by_role("button", name=text("download_csv")))
    assert [row["domain"] for row in csv_rows(data)] == [domain]


def test_attest_an_existing_customer(new_page):
    page = new_page("sales-agent")
    open_page(page, "attest_title")
    page.get_by_role("tab", name=text("tab_blocked")).click()
    wait_for_app(page)
    blocked_before = int(metric_value(page, text("blocked_count")))
    attest_today = page.get_by_role("button", name=text("blocked_attest"))
    first_row = visible_panel(page).get_by_test_id("stHorizontalBlock").filter(has=attest_today)
    company, domain = [cell for cell in first_row.first.inner_text().splitlines() if cell][:2]
    assert domain.endswith(".onmicrosoft.com")
    first_row.first.get_by_role("button").click()
    wait_for_app(page)

    panel = visible_panel(page)
    expect(page.get_by_role("tab", name=text("tab_existing"))).to_have_attribute(
        "aria-selected", "true"
    )
    expect(alert(page, "ex_from_blocked")).to_be_visible()
    expect(panel).to_contain_text(f"{company} · {domain}")
    form = panel.get_by_test_id("stForm")
    fill_in(page, form, text("at_first_name"), "Mei", commit=False)
    fill_in(page, form, text("at_last_name"), "Lin", commit=False)
    fill_in(page, form, text("at_email"), "mei.lin@example.com", commit=False)
    fill_in(page, form, text("at_phone_optional"), "+1 425 555 0142", commit=False)
    today = datetime.now(UTC).date().isoformat()
    enter_date(page, form, text("at_date_agreed"), today)  # never claimed for the agent
    form.get_by_role("button", name=text("ex_review_submit")).click()
    wait_for_app(page)
    expect(panel).to_contain_text(
        f"Mei Lin (mei.lin@example.com) accepted the Microsoft Customer Agreement for {company} "
        f"on {today} (UTC)."
    )
    screenshot(page, "attest-existing-review")
    panel.get_by_role("button", name=text("ex_confirm")).click()
    wait_for_app(page)
    expect(alert(page, "ex_attested")).to_be_visible()
    expect(panel).to_contain_text("Stored: Mei Lin · mei.lin@example.com · +1 425-555-0142")
    expect(panel).to_contain_text(company)
    screenshot(page, "attest-existing-done")

    page.get_by_role("tab", name=text("tab_blocked")).click()
    wait_for_app(page)
    # written through to the snapshot at once: no longer blocked, before any sync
    assert int(metric_value(page, text("blocked_count"))) == blocked_before - 1
    expect(visible_panel(page)).not_to_contain_text(domain)

    open_page(page, "verify_title")
    main = page.get_by_test_id("stMain")
    choose(page, main, text("customer_pick"), domain, typed=domain)
    expect(main.get_by_role("heading", name=company)).to_be_visible()
    expect(main).to_contain_text(lead("next_none"))


def test_create_a_new_customer_and_see_the_credentials_once(new_page):
    page = new_page("admin-agent")
    open_page(page, "attest_title")
    page.get_by_role("tab", name=text("tab_new")).click()
    wait_for_app(page)
    panel = visible_panel(page)
    prefix = f"lindqvist{uuid.uuid4().hex[:6]}"
    fill_in(page, panel, text("at_company_name"), "Lindqvist Bygg AB")
    fill_in(page, panel, text("at_domain_prefix"), prefix)
    fill_in(page, panel, text("at_address_line1"), "Storgatan 1")
    fill_in(page, panel, text("at_city"), "Stockholm")
    choose(page, panel, text("at_country"), "(SE)", typed="Sweden")
    fill_in(page, panel, text("at_first_name"), "Astrid")
    fill_in(page, panel, text("at_last_name"), "Lindqvist")
    fill_in(page, panel, text("at_email"), "astrid@lindqvistbygg.se")
    enter_date(page, panel, text("at_date_agreed"), datetime.now(UTC).date().isoformat())
    # The attestation's contact follows the primary contact until edited.
    expect(panel.get_by_label(text("at_first_name"), exact=True).nth(1)).to_have_value("Astrid")
    screenshot(page, "attest-new-form")
    panel.get_by_role("button", name=text("nc_review")).click()
    wait_for_app(page)
    expect(panel).to_contain_text(f"{prefix}.onmicrosoft.com")
    expect(panel).to_contain_text("Sweden (SE)")
    panel.get_by_role("button", name=text("nc_create")).click()
    wait_for_app(page)

    expect(alert(page, "nc_created")).to_contain_text("Lindqvist Bygg AB")
    expect(alert(page, "nc_attested")).to_be_visible()
    codes = panel.get_by_test_id("stCode")
    user_name = f"admin@{prefix}.onmicrosoft.com"
    expect(codes.first).to_have_text(user_name)
    expect(codes.nth(1)).to_have_text("•" * 12)
    panel.get_by_text(text("creds_reveal")).click()
    wait_for_app(page)
    password = codes.nth(1).inner_text().strip()
    assert password and "•" not in password and len(password) >= 8
    screenshot(page, "attest-new-credentials")

    panel.get_by_role("button", name=text("nc_send_invitation")).click()
    page.wait_for_url(re.compile(r"/Invitations"))
    wait_for_app(page)
    panel = visible_panel(page)
    expect(panel.get_by_label(text("inv_user_name"), exact=True)).to_have_value(user_name)
    expect(panel.get_by_label(text("inv_to"), exact=True)).to_have_value("astrid@lindqvistbygg.se")
    panel.get_by_role("button", name=text("inv_generate")).click()
    wait_for_app(page)
    screenshot(page, "invitations-mca-new")
    name, data = download(page, panel.get_by_role("button", name=text("inv_download")))
    assert name.startswith("mca_new-") and name.endswith(".eml")
    message, body, html = parse_eml(data)
    assert message["To"] == "astrid@lindqvistbygg.se"
    assert MCA_ACCEPTANCE_URL in body and user_name in body and password in body
    assert MCA_ACCEPTANCE_URL.replace("&", "&amp;") in html or MCA_ACCEPTANCE_URL in html

    # Shown once: back on the Attest page the password is gone for good.
    open_page(page, "attest_title")
    page.get_by_role("tab", name=text("tab_new")).click()
    wait_for_app(page)
    panel = visible_panel(page)
    expect(panel).to_contain_text(text("creds_gone"))
    expect(panel).not_to_contain_text(password)
    expect(panel.get_by_text(text("creds_reveal"))).to_have_count(0)


def test_bulk_upload_with_bad_rows(new_page, app: App):
    rows = synced_rows(app, "provider-admin")
    todo = [r for r in rows if r["accepted"] is False]
    done = [r for r in rows if r["accepted"]]
    lines = [
        "customer,first_name,last_name,email,phone,date_agreed",
        f"{todo[0]['customer_id']},Ana,Silva,ana@example.com,+351 21 000 0000,2025-11-20",
        f"{todo[1]['domain']},Bo,Chen,bo@example.com,,2025-11-21",
        f"{todo[2]['customer_id']},Cy,Doe,not-an-email,,2025-11-21",
        f"{todo[3]['customer_id']},Di,Eve,di@example.com,,2999-01-01",
        "nosuchcustomer.onmicrosoft.com,Ed,Fox,ed@example.com,,2025-11-21",
        f"{done[0]['customer_id']},Fi,Gu,fi@example.com,,2025-11-21",
    ]
    expected = {
        "2": "attested",
        "3": "attested",
        "4": "invalid",
        "5": "invalid",
        "6": "invalid",
        "7": "skipped_already_accepted",
    }
    page = new_page("provider-admin")
    open_page(page, "attest_title")
    page.get_by_role("tab", name=text("tab_bulk")).click()
    wait_for_app(page)
    panel = visible_panel(page)
    upload = {"name": "bulk.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}
    panel.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files=[upload])
    wait_for_app(page)
    expect(panel).to_contain_text(text("bulk_counts", n=6, invalid=2))
    submit = panel.get_by_role("button", name=text("bulk_submit"))
    expect(submit).to_be_disabled()  # a dry run comes first
    screenshot(page, "attest-bulk-checked")

    panel.get_by_role("button", name=text("bulk_dry_run")).click()
    wait_for_app(page)
    expect(panel).to_contain_text(text("bulk_dry_title"))
    expect(submit).to_be_enabled()
    submit.click()
    wait_for_app(page)
    expect(panel).to_contain_text(text("bulk_result_title"))
    expect(alert(page, "bulk_resume_hint")).to_be_visible()
    screenshot(page, "attest-bulk-done")

    button = panel.get_by_role("button", name=text("bulk_download_results"))
    name, data = download(page, button)
    assert name == "mca-bulk-results.csv"
    results = csv_rows(data)
    assert {row["line"]: row["outcome"] for row in results} == expected
    by_line = {row["line"]: row for row in results}
    assert "email" in by_line["4"]["message"]
    assert "later than today" in by_line["5"]["message"]
    assert "nosuchcustomer.onmicrosoft.com" in by_line["6"]["message"]
    assert by_line["3"]["customer_id"] == todo[1]["customer_id"]  # the domain was resolved
    assert all(by_line[line]["request_id"] for line in ("2", "3"))


def test_verify_a_customer(new_page, app: App):
    rows = synced_rows(app, "helpdesk-agent")
    accepted = next(r for r in rows if r["attested"] and r["direct_signed"])
    blocked = next(r for r in rows if r["accepted"] is False and not r["attested"])
    page = new_page("helpdesk-agent")
    open_page(page, "attest_title")
    expect(page.get_by_role("tab")).to_have_count(0)  # no attest action for a Helpdesk agent
    page.get_by_role("link", name=text("go_verify")).click()
    page.wait_for_url(re.compile(r"/Verify"))
    wait_for_app(page)

    main = page.get_by_test_id("stMain")
    choose(page, main, text("customer_pick"), accepted["domain"], typed=accepted["domain"])
    expect(main.get_by_role("heading", name=accepted["company_name"])).to_be_visible()
    expect(main).to_contain_text(accepted["customer_id"])
    expect(main).to_contain_text(lead("next_none"))
    expect(alert(page, "verdict_accepted")).to_be_visible()
    assert metric_value(page, text("m_direct")) == text("at_yes")
    assert int(metric_value(page, text("m_attestations"))) >= 1
    screenshot(page, "verify-accepted")

    choose(page, main, text("customer_pick"), blocked["domain"], typed=blocked["domain"])
    expect(main.get_by_role("heading", name=blocked["company_name"])).to_be_visible()
    expect(alert(page, "verdict_not_accepted")).to_be_visible()
    # A Helpdesk agent may not attest: the next step is the invitation, not the attestation.
    expect(main).to_contain_text(text("next_invite"))
    expect(main.get_by_role("link", name=text("vf_go_invite"))).to_be_visible()
    expect(main.get_by_role("link", name=text("vf_go_attest"))).to_have_count(0)
    main.get_by_role("button", name=text("vf_again")).click()
    wait_for_app(page)
    expect(main).to_contain_text(text("next_invite"))
    screenshot(page, "verify-not-accepted")


def test_generate_each_email(new_page, app: App):
    """MCA invitation to an existing customer (in Chinese, the customer being in China) and the
    indirect provider's reseller relationship request. The new customer's invitation and the
    reseller's request to its provider are in their own journeys."""
    rows = synced_rows(app, "admin-agent")
    chinese = next(r for r in rows if r["country"] == "CN" and r["accepted"] is False)
    page = new_page("admin-agent")
    open_page(page, "invitations_title")
    panel = visible_panel(page)
    choose(page, panel, text("inv_customer"), chinese["domain"], typed=chinese["domain"])
    expect(panel.get_by_role("radio", name="简体中文")).to_be_checked()
    fill_in(page, panel, text("inv_to"), "it@example.cn")
    panel.get_by_role("button", name=text("inv_generate")).click()
    wait_for_app(page)
    expect(alert(page, "inv_generated")).to_be_visible()
    screenshot(page, "invitations-mca-existing-zh")
    name, data = download(page, panel.get_by_role("button", name=text("inv_download")))
    assert name == f"mca_existing-{chinese['customer_id']}.eml"
    message, body, html = parse_eml(data)
    assert message["To"] == "it@example.cn"
    assert chinese["company_name"] in str(message["Subject"])
    assert re.search(r"[\u4e00-\u9fff]", str(message["Subject"]))  # written in Chinese
    assert MCA_ACCEPTANCE_URL in body
    assert chinese["company_name"] in html

    fabrikam = SANDBOX_USERS["provider-admin"]
    northwind = SANDBOX_USERS["indirect-reseller"]
    page = new_page("provider-admin")
    open_page(page, "invitations_title")
    page.get_by_role("tab", name=text("inv_gen_reseller")).click()
    wait_for_app(page)
    panel = visible_panel(page)
    reseller_name = PARTNERS[northwind.partner_tenant_id].name
    choose(page, panel, text("inv_reseller_pick"), reseller_name)
    fill_in(page, panel, text("inv_company"), "Prospect Oy")
    panel.get_by_role("button", name=text("inv_generate")).click()
    wait_for_app(page)
    screenshot(page, "invitations-reseller")
    name, data = download(page, panel.get_by_role("button", name=text("inv_download")))
    assert name.startswith("reseller") and name.endswith(".eml")
    _, body, _ = parse_eml(data)
    link = re.search(r"https://admin\.microsoft\.com/\S+", body)
    assert link is not None, body
    assert "invType=IndirectResellerRelationship" in link.group(0)
    assert f"partnerId={northwind.partner_tenant_id}" in link.group(0)
    assert f"indirectCSPId={fabrikam.partner_tenant_id}" in link.group(0)
    assert "Prospect Oy" in body


def test_indirect_reseller_reaches_the_provider_request(new_page, app: App):
    target = next(r for r in synced_rows(app, "indirect-reseller") if r["accepted"] is False)
    reseller = SANDBOX_USERS["indirect-reseller"]
    page = new_page("indirect-reseller")
    expect(alert(page, "may_attest_no")).to_be_visible()
    open_page(page, "attest_title")
    expect(page.get_by_role("tab")).to_have_count(0)  # no attest action at all
    expect(page.get_by_role("button", name=text("ex_review_submit"))).to_have_count(0)
    expect(alert(page, "guard_refused")).to_contain_text(str(reseller.provider_name))
    screenshot(page, "attest-refused-reseller")

    page.get_by_role("link", name=text("go_provider_request")).click()
    page.wait_for_url(re.compile(r"/Invitations"))
    wait_for_app(page)
    first_tab = page.get_by_role("tab").first
    expect(first_tab).to_have_text(text("inv_gen_provider"))
    expect(first_tab).to_have_attribute("aria-selected", "true")
    panel = visible_panel(page)
    choose(page, panel, text("inv_customer"), target["domain"], typed=target["domain"])
    fill_in(page, panel, text("inv_first_name"), "Wei")
    fill_in(page, panel, text("inv_last_name"), "Zhang")
    fill_in(page, panel, text("inv_contact_email"), "wei.zhang@example.cn")
    panel.get_by_role("button", name=text("inv_generate")).click()
    wait_for_app(page)
    screenshot(page, "invitations-provider-request")
    name, data = download(page, panel.get_by_role("button", name=text("inv_download")))
    assert name == f"provider_request-{target['customer_id']}.eml"
    message, body, _ = parse_eml(data)
    assert target["company_name"] in str(message["Subject"])
    assert str(reseller.provider_name) in body
    assert target["customer_id"] in body and "wei.zhang@example.cn" in body
    assert "enhanced MCA attestation" in body


@pytest.mark.parametrize("page_file", list(PAGE_PATHS))
def test_every_url_opened_directly_is_guarded(browser, app: App, page_file: str):
    """A fresh browser context (no session) opening the page's URL sees the sign-in notice and
    nothing of the page."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        page.goto(app.url + PAGE_PATHS[page_file])
        wait_for_app(page)
        main = page.get_by_test_id("stMain")
        expect(page.get_by_test_id("stException")).to_have_count(0)
        if page_file == "dashboard.py":
            expect(page.get_by_role("button", name=text("sign_in_button"))).to_be_visible()
            return
        expect(alert(page, "guard_sign_in")).to_be_visible()
        expect(main.get_by_role("link", name=text("guard_go_home"))).to_be_visible()
        title_key = NAVIGATION[page_file][0]
        expect(page.get_by_role("heading", name=text(title_key))).to_have_count(0)
        expect(main.get_by_test_id("stTabs")).to_have_count(0)
        expect(main.locator("input")).to_have_count(0)
        screenshot(page, f"guard-{title_key.removesuffix('_title')}")
    finally:
        context.close()
