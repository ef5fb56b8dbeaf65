"""AppTest of the invitations page: what each seeded user sees, the generate -> edit -> hand-off
path, the link that cannot be edited away, the new-customer prefill (the password stays on the
page and never reaches the store), ?customer= preselection and the reseller's own generator."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.domain.models import MCA_ACCEPTANCE_URL
from mca_core.emulator import SANDBOX_USERS
from mca_core.emulator.directory import FABRIKAM_TENANT_ID, NORTHWIND_TENANT_ID
from mca_core.usecases.invitations import PASSWORD_MASK

from .apptest import visible

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/4_Invitations.py")
PASSWORD = "Zq7#Tmp-Pa55!w"
PROVIDER_TAB, INVITE_TAB, RESELLER_TAB = (
    "Request to my indirect provider",
    "Invite to accept the MCA",
    "Reseller relationship request",
)
EXPECTED_TABS = {
    "admin-agent": [INVITE_TAB, RESELLER_TAB],
    "sales-agent": [INVITE_TAB, RESELLER_TAB],
    "helpdesk-agent": [INVITE_TAB],
    "provider-admin": [INVITE_TAB, RESELLER_TAB],
    "indirect-reseller": [PROVIDER_TAB, INVITE_TAB, RESELLER_TAB],
}
#: Every seeded user but the read-only manager (tests/test_manager_role.py: refused here).
assert set(EXPECTED_TABS) == set(SANDBOX_USERS) - {"manager"}


def open_page(user: str, **state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["sandbox_user_key"] = user
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def synced(user: str) -> AppTest:
    """The page after "Sync now": the customer type-ahead is filled from the snapshot."""
    at = open_page(user)
    next(b for b in at.button if b.label.startswith("Sync now")).click().run(timeout=120)
    assert not at.exception
    assert at.selectbox(key="inv1_customer").options
    return at


def errors(at: AppTest) -> list[str]:
    return [visible(e.value) for e in at.error]


def data_files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_signed_out_is_sent_to_the_home_page(sandbox_env):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert "sign in" in at.warning[0].value.lower() and not at.tabs


@pytest.mark.parametrize("user", list(EXPECTED_TABS))  # the read-only manager: refused
def test_each_seeded_user_sees_the_generators_they_may_use(sandbox_env, user):
    at = open_page(user)
    assert [tab.label for tab in at.tabs] == EXPECTED_TABS[user]
    assert not errors(at)
    assert any("No synced customer list" in i.value for i in at.info)
    if user == "provider-admin":
        options = at.selectbox(key="inv2_reseller").options
        assert "Northwind Traders IT" in options and "Tailspin Services" in options
    if user == "indirect-reseller":
        assert "Fabrikam Distribution" in at.markdown[0].value + at.markdown[1].value


def test_generate_edit_and_hand_off(sandbox_env):
    at = synced("admin-agent")
    picker = at.selectbox(key="inv1_customer")
    picker.select_index(0).run()
    chosen = picker.options[0]
    at.text_input(key="inv1_to").input("jane.doe@customer.example").run()
    at.button(key="inv1_generate").click().run()
    assert not at.exception and not errors(at)
    assert "audit log" in at.success[0].value
    subject, body = at.code[0].value, at.code[1].value
    assert chosen.split(" · ")[0] in subject and MCA_ACCEPTANCE_URL in body
    assert at.text_area(key="inv1_body").value.rstrip() == body.rstrip()
    [link] = at.link_button
    parts = urlsplit(link.proto.url)
    assert parts.scheme == "mailto" and parts.path == "jane.doe@customer.example"
    assert parse_qs(parts.query)["subject"] == [subject]
    assert at.download_button[0].label == "Download .eml"
    assert MCA_ACCEPTANCE_URL in at.html[0].value

    at.text_area(key="inv1_body").input("Hello,\nplease accept.\n").run()
    [refusal] = errors(at)
    assert MCA_ACCEPTANCE_URL in refusal and "no longer contains" in refusal
    assert not at.download_button and not at.link_button  # nothing to hand off
    assert at.text_area(key="inv1_body").value == "Hello,\nplease accept.\n"  # kept as typed

    at.button(key="inv1_restore").click().run()  # the written text comes back
    assert at.text_area(key="inv1_body").value.rstrip() == body.rstrip() and not errors(at)

    edited = f"Hello <b>you</b>,\nplease accept: {MCA_ACCEPTANCE_URL}\n"
    at.text_area(key="inv1_body").input(edited).run()
    assert not errors(at)
    assert "Hello &lt;b&gt;you&lt;/b&gt;," in at.html[0].value  # the preview escapes
    assert at.code[1].value.rstrip() == edited.rstrip()
    assert at.download_button and at.link_button

    at.button(key="inv1_done").click().run()
    assert not at.code and not at.download_button
    event = sandbox_audit(sandbox_env, "invite")
    assert event.inputs["recipient_domain"] == "customer.example"


def label_of(row: dict) -> str:
    """A customer as the picker names it."""
    return " · ".join(part for part in (row["company_name"], row["domain"]) if part)


def sandbox_audit(sandbox_env, action: str):
    from mca_core.store.database import Store

    url = f"sqlite:///{sandbox_env / 'data' / 'desk.sqlite3'}"
    events = Store(url).audit(action=action)
    assert events, f"no {action} event in the audit log"
    return events[0]


def test_a_long_email_offers_the_download_instead_of_the_link(sandbox_env):
    at = synced("admin-agent")
    at.selectbox(key="inv1_customer").select_index(1).run()
    at.button(key="inv1_generate").click().run()
    body = at.text_area(key="inv1_body").value
    at.text_area(key="inv1_body").input(body + "\n" + "PS. " * 600).run()
    assert not at.link_button and at.download_button
    assert any("too long" in i.value and ".eml" in i.value for i in at.info)


def test_new_customer_prefill_keeps_the_password_on_the_page_only(sandbox_env):
    at = synced("admin-agent")
    shown = at.selectbox(key="inv1_customer").options[0]  # label; find its id below
    rows = at.session_state["inv_rows"][1]
    customer_id = next(cid for cid, row in rows.items() if label_of(row) == shown)
    prefill = {
        "kind": "mca_new",
        "customer_id": customer_id,
        "company_name": "Fresh Co",
        "domain": "freshco.onmicrosoft.com",
        "user_name": "admin@freshco.onmicrosoft.com",
        "password": PASSWORD,
        "to": "owner@freshco.example",
        "locale": "zh-CN",
    }
    at.session_state["invite_prefill"] = prefill
    at.run()
    assert not at.exception
    assert "invite_prefill" not in at.session_state  # consumed
    assert at.radio(key="inv1_mode").value == "new"
    assert at.text_input(key="inv1_password").value == PASSWORD
    assert at.text_input(key="inv1_to").value == "owner@freshco.example"
    assert at.radio(key="inv1_locale").value == "zh-CN"
    assert any("Fresh Co" in i.value for i in at.info)

    at.button(key="inv1_generate").click().run()
    assert not errors(at), errors(at)
    body = at.code[1].value
    assert "临时密码" in body and PASSWORD_MASK in body and PASSWORD not in body
    assert PASSWORD not in at.html[0].value
    assert not at.link_button  # Chinese, percent-encoded, is too long for a mailto link
    assert any("too long" in i.value for i in at.info) and at.download_button
    at.toggle(key="inv1_reveal").set_value(True).run()
    assert PASSWORD in at.code[1].value and PASSWORD in at.html[0].value

    at.radio(key="inv1_locale").set_value("en").run()
    at.button(key="inv1_generate").click().run()
    assert "Temporary password: " + PASSWORD_MASK in at.code[1].value
    assert quote(PASSWORD, safe="") in at.link_button[0].proto.url  # the hand-off carries it

    assert PASSWORD not in repr(at.session_state["inv1_draft"])
    event = sandbox_audit(sandbox_env, "invite")
    assert event.inputs == {
        "kind": "mca_new",
        "customer_id": customer_id,
        "recipient_domain": "freshco.example",
        "locale": "en",
    }
    assert PASSWORD.encode() not in data_files(sandbox_env / "data")

    at.button(key="inv1_done").click().run()
    assert "inv1_password" not in at.session_state or not at.session_state["inv1_password"]
    assert not at.code


def test_a_draft_whose_password_left_the_page_is_dropped(sandbox_env):
    at = synced("sales-agent")
    at.radio(key="inv1_mode").set_value("new").run()
    at.selectbox(key="inv1_customer").select_index(0).run()
    at.text_input(key="inv1_user").input("admin").run()
    at.text_input(key="inv1_password").input(PASSWORD).run()
    at.button(key="inv1_generate").click().run()
    assert at.code and PASSWORD not in at.code[1].value
    at.text_input(key="inv1_password").input("").run()  # what leaving the page leaves behind
    assert not at.code and any("no longer on this page" in i.value for i in at.info)


def test_a_new_customers_relationship_invitation_carries_its_sign_in(sandbox_env):
    """The seed asks for the reseller-relationship email to carry a new customer's sign-in:
    the password is masked in the draft, revealed only on request and at the hand-off, never
    kept in the draft or the audit, and it leaves with Done."""
    at = synced("admin-agent")
    at.selectbox(key="inv2_customer").select_index(0).run()
    at.text_input(key="inv2_user").input("admin").run()
    at.button(key="inv2_generate").click().run()  # a sign-in name without its password
    assert any("password" in e.lower() for e in errors(at)), errors(at)
    at.text_input(key="inv2_password").input(PASSWORD).run()
    at.button(key="inv2_generate").click().run()
    assert not errors(at), errors(at)
    body = at.code[1].value
    assert "Sign-in name: admin@" in body and PASSWORD_MASK in body and PASSWORD not in body
    at.toggle(key="inv2_reveal").set_value(True).run()
    assert PASSWORD in at.html[0].value
    assert quote(PASSWORD, safe="") in at.link_button[0].proto.url  # the hand-off carries it
    assert PASSWORD not in repr(at.session_state["inv2_draft"])
    assert PASSWORD.encode() not in data_files(sandbox_env / "data")
    at.button(key="inv2_done").click().run()
    assert "inv2_password" not in at.session_state or not at.session_state["inv2_password"]
    assert not at.code


def test_customer_query_parameter_preselects_it(sandbox_env):
    at = synced("admin-agent")
    rows = at.session_state["inv_rows"][1]
    customer_id, row = next(iter(rows.items()))
    label = label_of(row)
    at2 = AppTest.from_file(PAGE, default_timeout=60)
    at2.session_state["sandbox_user_key"] = "admin-agent"
    at2.query_params["customer"] = customer_id
    at2.run()
    assert not at2.exception
    assert at2.selectbox(key="inv1_customer").value == customer_id
    assert at2.radio(key="inv1_mode").value == "existing"
    at2.button(key="inv1_generate").click().run()
    assert label.split(" · ")[0] in at2.code[0].value


def test_reseller_writes_to_its_provider_first(sandbox_env):
    at = synced("indirect-reseller")
    assert at.tabs[0].label == PROVIDER_TAB
    at.selectbox(key="inv3_customer").select_index(0).run()
    at.button(key="inv3_generate").click().run()  # no contact yet: every problem named
    fields = " ".join(errors(at))
    assert "First name" in fields and "Last name" in fields and "Email" in fields
    at.text_input(key="inv3_first_name").input("Jane").run()
    at.text_input(key="inv3_last_name").input("Doe").run()
    at.text_input(key="inv3_email").input("jane@customer.example").run()
    at.text_input(key="inv3_to").input("mca@fabrikamdistribution.com").run()
    assert not at.get("date_input")  # the enhanced flow dates the agreement itself
    at.button(key="inv3_generate").click().run()
    assert not errors(at), errors(at)
    body = at.code[1].value
    assert "Hello Fabrikam Distribution team" in body and "Jane Doe" in body
    assert "enhanced MCA attestation" in body and "Customer agreement" not in body
    assert NORTHWIND_TENANT_ID in body
    assert at.link_button[0].proto.url.startswith("mailto:mca@fabrikamdistribution.com?")

    at.radio(key="inv3_ask").set_value("link").run()
    at.button(key="inv3_generate").click().run()
    assert "relationship link" in at.code[0].value


def test_provider_writes_a_link_on_behalf_of_a_reseller(sandbox_env):
    at = open_page("provider-admin")
    at.selectbox(key="inv2_reseller").set_value(NORTHWIND_TENANT_ID).run()
    at.text_input(key="inv2_company").input("Prospect <Ltd>").run()
    at.button(key="inv2_generate").click().run()
    assert not errors(at), errors(at)
    body = at.code[1].value
    assert f"indirectCSPId={FABRIKAM_TENANT_ID}" in body and "Northwind Traders IT" in body
    assert "Prospect &lt;Ltd&gt;" in at.html[0].value


def test_chinese_screen_english_email(sandbox_env):
    at = open_page("sales-agent", ui_language="zh-CN")
    assert [tab.label for tab in at.tabs] == ["邀请客户接受 MCA", "经销商关系请求"]
    at.text_input(key="inv2_company").input("Contoso Prospect").run()
    at.button(key="inv2_generate").click().run()
    assert not errors(at)
    assert (
        at.code[0].value == "Contoso Cloud Solutions invites Contoso Prospect to a reseller "
        "relationship"
    )
    at.radio(key="inv2_locale").set_value("zh-CN").run()
    at.button(key="inv2_generate").click().run()
    assert "邀请" in at.code[0].value


def test_an_invalid_recipient_is_named_in_the_ui_language(sandbox_env):
    at = open_page("sales-agent", ui_language="zh-CN")
    at.text_input(key="inv2_to").input("not an address").run()
    at.button(key="inv2_generate").click().run()
    assert not at.exception
    assert any(e.startswith("收件人") for e in errors(at))
    assert at.text_input(key="inv2_to").value == "not an address"


# --- the 2023 MCA refresh --------------------------------------------------------------------


def preselected(customer_id: str, lang: str = "en") -> AppTest:
    """The invite generator with `customer_id` chosen through ?customer= (after a sync)."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["sandbox_user_key"] = "admin-agent"
    if lang != "en":
        at.session_state["ui_language"] = lang
    at.query_params["customer"] = customer_id
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="inv1_customer").value == customer_id
    return at


def test_a_customer_that_must_re_accept_is_not_called_accepted(sandbox_env):
    from datetime import date

    at = synced("admin-agent")
    rows = at.session_state["inv_rows"][1]
    old = next(
        r
        for r in rows.values()
        if r["latest_date_agreed"] is not None
        and r["latest_date_agreed"].date() < date(2023, 4, 1)
        and not r["direct_signed"]
    )
    current = next(
        r
        for r in rows.values()
        if r["latest_date_agreed"] is not None
        and r["latest_date_agreed"].date() >= date(2023, 4, 1)
    )
    at = preselected(old["customer_id"])
    latest = old["latest_date_agreed"].date().isoformat()
    notes = [visible(i.value) for i in at.info]
    assert any(
        "must accept the current MCA" in n and f"({latest})" in n and "2023-04-01" in n
        for n in notes
    ), notes
    assert not any("already accepted" in visible(w.value) for w in at.warning)
    at = preselected(current["customer_id"])
    assert any("has already accepted the MCA" in visible(w.value) for w in at.warning)
    at = preselected(old["customer_id"], "zh-CN")
    assert any("必须接受当前 MCA" in i.value for i in at.info)
