"""AppTest of the Attest page: who may use it, the existing-customer form (success, a future
date in UTC, 600061), the blocked list, a new customer (with an attestation that fails after the
customer was created, and its retry), and the bulk CSV (bad rows, GB18030, a resumed run)."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.domain import errors
from mca_core.domain.validation import utc_today
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.usecases.metrics import row_blocked

from .apptest import open_page, run, texts, visible
from .conftest import ROOT

#: The classic channel, against a tenant that still accepts it (retired in production).
pytestmark = pytest.mark.classic_tenant

PAGE = str(ROOT / "pages" / "2_Attest.py")


def page(user: str = "admin-agent", **query: str) -> AppTest:
    return open_page(PAGE, user, **query)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def store() -> Store:
    return Store(load_settings().resolved_store_url)


def snapshot_rows() -> list[dict]:
    s = store()
    return s.snapshot_rows(s.latest_snapshot().id)


@pytest.fixture
def synced(sandbox_env):
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    return sandbox_env


@pytest.fixture
def blocked_id(synced) -> str:
    return next(r["customer_id"] for r in snapshot_rows() if r["accepted"] is False)


def fill_contact(at: AppTest, prefix: str = "ex_", email: str = "li.wei@example.com") -> None:
    at.text_input(key=f"{prefix}first").set_value("Wei")
    at.text_input(key=f"{prefix}last").set_value("Li")
    at.text_input(key=f"{prefix}email").set_value(email)


# --- access ----------------------------------------------------------------------------------


def test_signed_out_is_sent_home(sandbox_env):
    at = run(AppTest.from_file(PAGE, default_timeout=60))
    assert "sign in" in at.warning[0].value.lower()
    assert not at.get("tab")


def test_helpdesk_agent_is_refused_and_pointed_to_verify(sandbox_env):
    at = run(page("helpdesk-agent"))
    assert "may not attest" in at.error[0].value
    assert "Verify a customer's status instead" in texts(at) + str(
        [p.proto.label for p in at.get("page_link")]
    )
    assert not at.text_input and not at.get("tab")


def test_indirect_reseller_is_pointed_to_the_provider_request(sandbox_env):
    at = run(page("indirect-reseller"))
    assert "Indirect resellers can never attest" in at.error[0].value
    links = texts(at) + str([p.proto.label for p in at.get("page_link")])
    assert "Write to your indirect provider" in links
    assert not at.text_input


# --- existing customer -----------------------------------------------------------------------


def review_and_confirm(at: AppTest) -> AppTest:
    """Review attestation, then Confirm: the only way the existing-customer form sends."""
    run(button(at, "Review attestation").click())
    return run(button(at, "Confirm and attest").click())


def test_attest_an_existing_customer_shows_the_stored_attestation(blocked_id):
    at = run(page(customer=blocked_id))
    assert at.selectbox(key="ex_customer").value == blocked_id
    assert "Not accepted" in at.error[0].value  # its current status, read live
    assert at.date_input(key="ex_date").value is None  # never claimed for the agent
    fill_contact(at)
    at.text_input(key="ex_phone").set_value("+86 10 1234 5678")
    at.date_input(key="ex_date").set_value(utc_today())
    run(button(at, "Review attestation").click())
    statement = texts(at)
    assert (
        "**Wei Li** (li.wei@example.com) accepted the Microsoft Customer Agreement for"
        in (statement)
        and f"on **{utc_today().isoformat()}** (UTC)" in statement
    )
    assert not store().audit(action="attest")  # nothing is sent before the confirmation
    run(button(at, "Confirm and attest").click())
    success = " ".join(s.value for s in at.success)
    assert "Attested." in success and "MS-RequestId" in success
    assert "Wei Li" in texts(at) and utc_today().isoformat() in texts(at)
    assert any("Accepted" in s.value for s in at.success)  # the status was read again
    [event] = store().audit(action="attest")
    assert (event.outcome, event.customer_id) == ("attested", blocked_id)
    assert event.request_id and event.request_id in success


def test_an_empty_date_is_an_error_naming_the_field_never_today(blocked_id):
    """Issue 10.1: a cleared date field used to attest with today's date and say Attested."""
    at = run(page(customer=blocked_id))
    fill_contact(at)
    at.date_input(key="ex_date").set_value(utc_today())
    run(at)
    at.date_input(key="ex_date").set_value(None)  # the field cleared
    run(button(at, "Review attestation").click())
    message = texts(at)
    assert "Acceptance date" in message and "YYYY-MM-DD" in message
    assert not [b for b in at.button if b.label == "Confirm and attest"]
    assert not [e for e in store().audit(action="attest") if e.outcome == "attested"]


def test_change_goes_back_to_the_form_with_what_was_typed(blocked_id):
    at = run(page(customer=blocked_id))
    fill_contact(at)
    at.date_input(key="ex_date").set_value(utc_today() - timedelta(days=3))
    run(button(at, "Review attestation").click())
    run(button(at, "← Change").click())
    assert at.text_input(key="ex_email").value == "li.wei@example.com"
    assert at.date_input(key="ex_date").value == utc_today() - timedelta(days=3)
    assert not store().audit(action="attest")


def test_a_future_date_in_utc_is_refused_before_any_call(blocked_id):
    at = run(page(customer=blocked_id))
    fill_contact(at)
    tomorrow = utc_today() + timedelta(days=1)
    at.date_input(key="ex_date").set_value(tomorrow)
    run(button(at, "Review attestation").click())
    message = visible(at.error[-1].value)
    assert f"later than today in UTC ({utc_today().isoformat()})" in message
    assert not store().audit(action="attest")  # nothing was sent
    assert at.text_input(key="ex_email").value == "li.wei@example.com"  # what was typed stays


def test_an_identical_attestation_is_already_attested_not_a_failure(blocked_id):
    at = run(page(customer=blocked_id))
    fill_contact(at)
    at.date_input(key="ex_date").set_value(utc_today())
    review_and_confirm(at)
    review_and_confirm(at)
    assert any("Already attested with these details" in i.value for i in at.info)
    assert not [e for e in at.error if "Not attested" in e.value]
    outcomes = [e.outcome for e in store().audit(action="attest")]
    assert outcomes == ["already_attested", "attested"]


def test_a_blocked_customer_opens_the_form_without_claiming_a_date(synced):
    at = run(page())
    at.session_state["attest_tab"] = "Blocked customers"
    run(at)
    assert any("403, code 13605" in w.value for w in at.warning)
    first = next(b for b in at.button if b.label == "Attest…")
    customer_id = first.key.removeprefix("bl_attest_")
    run(first.click())
    assert at.session_state["attest_tab"] == "Existing customer"
    assert at.selectbox(key="ex_customer").value == customer_id
    assert at.date_input(key="ex_date").value is None  # the agent enters when it was accepted
    assert any("Preselected from the blocked list" in i.value for i in at.info)
    assert at.text_input(key="ex_first").value == ""  # the agent still enters the contact


def earlier_mca_only(rows: list[dict]) -> dict:
    """A customer whose only acceptance is an attestation dated before 2023-04-01."""
    return next(
        r
        for r in rows
        if r["latest_date_agreed"] is not None
        and r["latest_date_agreed"].date() < date(2023, 4, 1)
        and not r["direct_signed"]
    )


def blocked_tab(lang: str = "en") -> AppTest:
    at = page()
    if lang != "en":
        at.session_state["ui_language"] = lang
    at.session_state["attest_tab"] = "受阻客户" if lang == "zh-CN" else "Blocked customers"
    return run(at)


def test_the_blocked_list_names_customers_that_must_re_accept(synced):
    rows = snapshot_rows()
    blocked = [r for r in rows if row_blocked(r, date(2023, 4, 1))]
    old = earlier_mca_only(rows)
    never = next(r for r in blocked if not r["attested"])
    assert old in blocked
    at = blocked_tab()
    assert any("before 2023-04-01" in w.value and "13605" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Customers blocked"] == f"{len(blocked):,}"
    assert f"bl_attest_{old['customer_id']}" in {b.key for b in at.button}
    at.text_input(key="bl_search").set_value(old["domain"])
    run(at)
    latest = old["latest_date_agreed"].date().isoformat()
    shown = [m.value for m in at.markdown]
    assert f"Must re-accept (last accepted {latest})" in shown
    assert "Not accepted" not in shown
    at.text_input(key="bl_search").set_value(never["domain"])
    run(at)
    shown = [m.value for m in at.markdown]
    assert "Not accepted" in shown and not any("Must re-accept" in v for v in shown)


def test_an_attestation_before_the_cutoff_keeps_the_customer_blocked(synced):
    rows = snapshot_rows()
    never = [r for r in rows if r["accepted"] is False and not r["attested"]]
    stale, fresh = never[0], never[1]
    for row, day in ((stale, "2022-06-01"), (fresh, utc_today().isoformat())):
        args = ["attest", row["customer_id"], "--first-name", "Jane", "--last-name", "Doe"]
        args += ["--email", "jane@example.com", "--date", day]
        assert main(args, out=io.StringIO(), err=io.StringIO()) == 0
    at = blocked_tab()
    keys = {b.key for b in at.button}
    assert f"bl_attest_{fresh['customer_id']}" not in keys  # attested for the current MCA
    assert f"bl_attest_{stale['customer_id']}" in keys  # an earlier MCA: still blocked
    at.text_input(key="bl_search").set_value(stale["domain"])
    run(at)
    assert "Must re-accept (last accepted 2022-06-01)" in [m.value for m in at.markdown]


def test_chinese_blocked_list(synced):
    old = earlier_mca_only(snapshot_rows())
    at = blocked_tab("zh-CN")  # one page: fewer blocked customers than BLOCKED_PAGE_SIZE
    latest = old["latest_date_agreed"].date().isoformat()
    assert f"需重新接受（最近接受于 {latest}）" in [m.value for m in at.markdown]
    assert any("旧版 MCA" in w.value for w in at.warning)


def test_a_review_dated_before_the_cutoff_warns_it_does_not_unblock(blocked_id):
    at = run(page(customer=blocked_id))
    fill_contact(at)
    at.date_input(key="ex_date").set_value(date(2022, 6, 1))
    run(button(at, "Review attestation").click())
    assert any(
        "2022-06-01 is before 2023-04-01" in w.value and "earlier MCA" in w.value
        for w in at.warning
    )


def test_chinese_tabs_and_form(blocked_id):
    at = page(customer=blocked_id)
    at.session_state["ui_language"] = "zh-CN"
    run(at)
    assert at.title[0].value == "证明客户接受"
    assert [t.label for t in at.tabs] == ["现有客户", "新客户", "批量（CSV）", "受阻客户"]
    assert "UTC 时间的今天" in texts(at)


# --- new customer ----------------------------------------------------------------------------


def fill_new_customer(at: AppTest, prefix: str = "wingtip") -> None:
    values = {
        "nc_company": "Wingtip Toys",
        "nc_domain": prefix,
        "nc_address": "1 Main Street",
        "nc_city": "Redmond",
        "nc_first": "Jane",
        "nc_last": "Doe",
        "nc_email": "jane@wingtip.example",
    }
    for key, value in values.items():
        at.text_input(key=key).set_value(value)
    at.selectbox(key="nc_country").set_value("US")
    if at.date_input(key="nc_att_date").value is None:  # never defaulted: the agent enters it
        at.date_input(key="nc_att_date").set_value(utc_today())


def new_customer_page(user: str = "admin-agent") -> AppTest:
    at = page(user)
    at.session_state["attest_tab"] = "New customer"
    return run(at)


def test_review_reports_every_problem_and_keeps_the_input(sandbox_env):
    at = new_customer_page()
    at.text_input(key="nc_domain").set_value("Wing Tip")
    run(button(at, "Review").click())
    message = at.error[0].value
    for label in ("Company name", "Domain prefix", "Address", "City", "Country", "Email"):
        assert label in message
    assert at.text_input(key="nc_domain").value == "Wing Tip"


def test_new_customer_with_attestation_shows_credentials_once(sandbox_env):
    at = new_customer_page()
    fill_new_customer(at)
    run(at)
    assert at.text_input(key="nc_att_email").value == "jane@wingtip.example"  # prefilled
    run(button(at, "Review").click())
    assert "wingtip.onmicrosoft.com" in texts(at)
    run(button(at, "Create customer").click())
    page_text = texts(at)
    assert "Customer created" in page_text and "Attested" in page_text
    assert "admin@wingtip.onmicrosoft.com" in [c.value for c in at.code]
    assert "•" * 12 in [c.value for c in at.code]  # masked until revealed
    outcome = at.session_state["ncx_outcome"]
    password = outcome.credentials.password.get_secret_value()
    assert password not in page_text
    run(at.toggle(key="creds_reveal").set_value(True))
    assert password in [c.value for c in at.code]
    run(button(at, "I have saved them — hide").click())
    assert password not in texts(at) and at.session_state["ncx_outcome"].credentials is None
    assert "shown once" in texts(at)
    audit_text = json.dumps([e.model_dump(mode="json") for e in store().audit()])
    assert password not in audit_text
    assert [e.action for e in store().audit()][:2] == ["attest", "create_customer"]
    run(button(at, "Create another customer").click())
    assert at.text_input(key="nc_company").value == "" and button(at, "Review")


def test_an_indirect_provider_creates_a_customer_for_its_reseller(sandbox_env):
    from mca_core.emulator.directory import NORTHWIND_TENANT_ID

    direct = new_customer_page()
    assert "nc_reseller" not in [w.key for w in direct.text_input]
    at = new_customer_page("provider-admin")
    fill_new_customer(at, "northwindkid")
    at.text_input(key="nc_reseller").set_value(NORTHWIND_TENANT_ID)
    at.radio(key="nc_agreement").set_value("customer_accepts")
    run(button(at, "Review").click())
    assert NORTHWIND_TENANT_ID in texts(at)
    run(button(at, "Create customer").click())
    assert at.session_state["ncx_outcome"].customer.associated_partner_id == NORTHWIND_TENANT_ID


def test_leaving_the_page_drops_the_credentials(sandbox_env):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.session_state["sandbox_user_key"] = "admin-agent"
    run(at)
    run(at.switch_page("pages/2_Attest.py"))
    at.session_state["attest_tab"] = "New customer"
    run(at)
    fill_new_customer(at, "leavingco")
    at.radio(key="nc_agreement").set_value("customer_accepts")
    run(button(at, "Review").click())
    run(button(at, "Create customer").click())
    assert at.session_state["ncx_outcome"].credentials is not None
    assert "Microsoft 365 admin center" in texts(at)  # next: the invitation
    run(at.switch_page("pages/3_Verify.py"))
    assert at.title[0].value == "Verify a customer"
    run(at.switch_page("pages/2_Attest.py"))
    assert at.session_state["ncx_outcome"].credentials is None
    assert not [c for c in at.code if c.value.startswith("admin@")]
    assert "shown once" in texts(at)


def test_attestation_failing_after_creation_is_said_plainly_and_retried_once(
    sandbox_env, monkeypatch
):
    real_attest = PartnerCenterClient.attest
    calls: list[str | None] = []

    async def failing_once(self, customer_id, contact, day, *, request_id=None):
        calls.append(request_id)
        if len(calls) == 1:
            raise errors.ServiceUnavailable(
                "Partner Center is unavailable.", status=503, request_id="rid-503"
            )
        return await real_attest(self, customer_id, contact, day, request_id=request_id)

    monkeypatch.setattr(PartnerCenterClient, "attest", failing_once)
    at = new_customer_page()
    fill_new_customer(at, "retryco")
    run(button(at, "Review").click())
    run(button(at, "Create customer").click())
    failure = " ".join(e.value for e in at.error)
    assert "was created, but the attestation failed" in failure and "rid-503" in failure
    first = at.session_state["ncx_outcome"]
    assert first.attestation_failed and first.credentials is not None
    run(button(at, "Retry the attestation").click())
    second = at.session_state["ncx_outcome"]
    assert second.customer.id == first.customer.id and second.attestation is not None
    assert any("Attested" in s.value for s in at.success)
    assert len(calls) == 2 and calls[0] != calls[1]  # an answer came: a new request id
    created = [e for e in store().audit(action="create_customer") if e.outcome == "created"]
    assert {e.request_id for e in created} == {first.created.request_id}  # replayed, not twice
    assert second.credentials is not None  # never dismissed: still the one showing
    out = io.StringIO()
    assert main(["--json", "customers"], out=out, err=io.StringIO()) == 0
    domains = [c["domain"] for c in json.loads(out.getvalue())]
    assert domains.count("retryco.onmicrosoft.com") == 1


def test_send_invitation_hands_the_credentials_over(sandbox_env, monkeypatch):
    import streamlit

    captured: dict = {}

    def switch_page(page_path, **kw):  # stands in for the Invitations page, which consumes it
        captured.update(streamlit.session_state.get("invite_prefill") or {}, page=page_path)

    monkeypatch.setattr(streamlit, "switch_page", switch_page)
    monkeypatch.setattr("ui.attest_blocks.page_exists", lambda page: True)
    at = new_customer_page()
    fill_new_customer(at, "inviteco")
    at.selectbox(key="nc_culture").set_value("zh-CN")
    run(button(at, "Review").click())
    run(button(at, "Create customer").click())
    password = at.session_state["ncx_outcome"].credentials.password.get_secret_value()
    run(button(at, "Send invitation email…").click())
    assert captured["page"] == "pages/4_Invitations.py"
    assert captured["kind"] == "mca_new" and captured["password"] == password
    assert captured["user_name"] == "admin@inviteco.onmicrosoft.com"
    assert captured["locale"] == "zh-CN" and captured["to"] == "jane@wingtip.example"
    assert captured["customer_id"] == at.session_state["ncx_outcome"].customer.id
    assert at.session_state["ncx_outcome"].credentials is None  # handed over, not kept


# --- bulk --------------------------------------------------------------------------------------


def bulk_page() -> AppTest:
    at = page()
    at.session_state["attest_tab"] = "Bulk (CSV)"
    return run(at)


def upload(at: AppTest, data: bytes, name: str = "rows.csv") -> AppTest:
    at.file_uploader[0].set_value((name, data, "text/csv"))
    return run(at)


def grid(at: AppTest):
    return at.data_editor[0].value


def test_bulk_bad_rows_duplicates_and_accepted_customers_are_flagged(synced):
    rows = snapshot_rows()
    blocked = [r for r in rows if r["accepted"] is False]
    accepted = next(r for r in rows if r["accepted"])
    today = utc_today().isoformat()
    future = (utc_today() + timedelta(days=3)).isoformat()
    data = "\n".join(
        [
            "customer,first_name,last_name,email,phone,date_agreed",
            f"{blocked[0]['domain']},Jane,Doe,jane@example.com,,{today}",
            f"{blocked[1]['customer_id']},John,Roe,not-an-email,,{today}",
            f"{blocked[2]['customer_id']},Ann,Lee,ann@example.com,,{future}",
            f"{blocked[0]['customer_id']},Jane,Doe,jane@example.com,,{today}",
            f"{accepted['customer_id']},Max,Mu,max@example.com,,{today}",
        ]
    ).encode()
    at = upload(bulk_page(), data)
    table = grid(at).set_index("line")
    assert "ready" in table.loc[2, "state"]
    assert "Email" in table.loc[3, "problems"] and "invalid" in table.loc[3, "state"]
    assert f"later than today in UTC ({today})" in table.loc[4, "problems"]
    assert "duplicate in file" in table.loc[5, "state"] and "line 2" in table.loc[5, "problems"]
    assert "already accepted" in table.loc[6, "state"]
    assert not any("already accepted" in table.loc[line, "state"] for line in (2, 3, 4, 5))
    assert button(at, "Submit").disabled  # a dry run first
    run(button(at, "Dry run").click())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["would attest"] == "1" and metrics["invalid"] == "3"
    assert metrics["skipped: already accepted"] == "1"
    assert not store().audit(action="attest") and not button(at, "Submit").disabled
    labels = [d.label for d in at.get("download_button")]
    assert "Download the results (CSV)" in labels


def test_bulk_does_not_call_a_customer_that_must_re_accept_already_accepted(synced):
    rows = snapshot_rows()
    old = earlier_mca_only(rows)
    current = next(r for r in rows if r["accepted"] and r["attested"])
    today = utc_today().isoformat()
    data = "\n".join(
        [
            "customer,first_name,last_name,email,phone,date_agreed",
            f"{old['customer_id']},Jane,Doe,jane@example.com,,{today}",
            f"{current['customer_id']},Max,Mu,max@example.com,,{today}",
        ]
    ).encode()
    table = grid(upload(bulk_page(), data)).set_index("line")
    assert "ready" in table.loc[2, "state"] and "already accepted" not in table.loc[2, "state"]
    assert "already accepted" in table.loc[3, "state"]


def test_bulk_gb18030_file_keeps_chinese_names(synced):
    blocked = [r for r in snapshot_rows() if r["accepted"] is False]
    today = utc_today().isoformat()
    text = "客户,名,姓,电子邮件,电话,日期\n"  # unknown headers: refused with the columns named
    at = bulk_page()
    at.selectbox(key="bulk_encoding").set_value("gb18030")  # never read as GB18030 unasked
    at = upload(at, text.encode("gb18030"))
    assert "cannot be used" in at.error[0].value and "customer" in at.error[0].value
    text = "customer,first_name,last_name,email,phone,date_agreed\n" + "".join(
        f"{r['customer_id']},{first},{last},{mail}@example.cn,,{today}\n"
        for r, (first, last, mail) in zip(
            blocked, [("伟", "李", "li.wei"), ("娜", "王", "wang.na")], strict=False
        )
    )
    at.file_uploader[0].set_value(("中文.csv", text.encode("gb18030"), "text/csv"))
    run(at)
    table = grid(at)
    assert list(table["first_name"]) == ["伟", "娜"] and list(table["last_name"]) == ["李", "王"]
    assert all("ready" in s for s in table["state"])
    run(button(at, "Dry run").click())
    run(button(at, "Submit").click())
    assert {m.label: m.value for m in at.metric}["attested"] == "2"
    contacts = {
        e.inputs["first_name"]
        for e in store().audit(action="bulk_attest")
        if e.outcome == "attested"
    }
    assert contacts == {"伟", "娜"}


def test_bulk_edit_in_the_grid_rechecks_the_row(synced):
    blocked = [r for r in snapshot_rows() if r["accepted"] is False]
    today = utc_today().isoformat()
    data = (
        "customer,first_name,last_name,email,phone,date_agreed\n"
        f"{blocked[0]['customer_id']},Jane,Doe,broken,,{today}\n"
    ).encode()
    at = upload(bulk_page(), data)
    assert "invalid" in grid(at).loc[0, "state"]
    key = f"bulk_grid_{at.session_state['bulk_version']}"
    at.session_state[key] = {
        "edited_rows": {0: {"email": "jane@example.com"}},
        "added_rows": [
            {
                "customer": blocked[1]["domain"],
                "first_name": "Al",
                "last_name": "Bo",
                "email": "al@example.com",
                "date_agreed": today,
            }
        ],
        "deleted_rows": [],
    }
    run(at)
    table = grid(at)
    assert list(table["line"]) == [2, 3]
    assert all("ready" in s for s in table["state"]), list(table["problems"])
    assert at.session_state["bulk_base"].loc[0, "email"] == "jane@example.com"  # kept


def test_bulk_run_that_failed_part_way_resumes(synced, monkeypatch):
    blocked = [r for r in snapshot_rows() if r["accepted"] is False][:3]
    today = utc_today().isoformat()
    data = "customer,first_name,last_name,email,phone,date_agreed\n" + "".join(
        f"{r['customer_id']},Pat,{last},pat{i}@example.com,,{today}\n"
        for i, (r, last) in enumerate(zip(blocked, ("Kim", "Lee", "Park"), strict=True))
    )
    real_attest = PartnerCenterClient.attest
    down = {blocked[2]["customer_id"]}

    async def flaky(self, customer_id, contact, day, *, request_id=None):
        if customer_id in down:
            raise errors.ServiceUnavailable("unavailable", status=503, request_id="rid-down")
        return await real_attest(self, customer_id, contact, day, request_id=request_id)

    monkeypatch.setattr(PartnerCenterClient, "attest", flaky)
    at = upload(bulk_page(), data.encode())
    run(button(at, "Dry run").click())
    run(button(at, "Submit").click())
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["attested"], metrics["failed"]) == ("2", "1")
    assert any("submit again" in w.value for w in at.warning)
    down.clear()  # Partner Center is back
    run(button(at, "Submit").click())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["attested"] == "3" and "failed" not in metrics
    assert any("2 rows were done by an earlier run" in i.value for i in at.info)
    assert any("Every row is done" in s.value for s in at.success)
    attested = [e for e in store().audit(action="bulk_attest") if e.outcome == "attested"]
    assert len(attested) == 3  # each customer attested once


def test_bulk_unusable_file_says_what_to_do(synced):
    # UTF-16 without a BOM (with one it is read)
    data = "customer,first_name,last_name,email,date_agreed\n".encode("utf-16-le")
    at = upload(bulk_page(), data)
    assert "UTF-16" in at.error[0].value and "CSV UTF-8" in at.error[0].value
    assert not at.data_editor
    assert at.session_state["bulk_bytes"] == data  # the file is kept


# --- strings -----------------------------------------------------------------------------------


def test_every_string_of_these_pages_has_english_and_chinese():
    import re

    from mca_core.usecases.bulk import OUTCOMES
    from ui import i18n

    sources = ["pages/2_Attest.py", "pages/3_Verify.py", "pages/5_Audit.py", "ui/attest_blocks.py"]
    sources += [
        p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "ui" / "attest").glob("*.py"))
    ]
    keys = set()
    for source in sources:
        text = (ROOT / source).read_text(encoding="utf-8")
        keys |= set(re.findall(r"\btn?\(\s*[\"']([a-z0-9_]+)[\"']", text))
    keys |= {f"tab_{k}" for k in ("existing", "new", "bulk", "blocked")}
    keys |= {f"flag_{k}" for k in ("duplicate_in_file", "already_accepted", "unknown_customer")}
    keys |= {f"outcome_{k}" for k in OUTCOMES}
    keys |= {f"nc_choice_{k}" for k in ("attest_now", "customer_accepts")}
    keys |= {f"next_{k}" for k in ("none", "attest", "invite", "ask_provider")}
    assert len(keys) > 150
    translated = i18n.translated_keys("zh-CN")
    missing = sorted(k for k in keys if not (i18n.has_message(k) and k in translated))
    assert missing == []
