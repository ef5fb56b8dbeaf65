"""AppTest of the Verify page: the verdict, the attestations with who attested, direct
acceptance, and the next step for each kind of user."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.desk import Desk
from mca_core.domain.models import Address, NewCustomer
from mca_core.emulator import Emulator
from mca_core.emulator.directory import NORTHWIND_TENANT_ID
from mca_core.store.database import Store
from mca_core.usecases.customers import create_customer, new_request_id

from .apptest import cli, open_page, run, texts
from .conftest import ROOT

PAGE = str(ROOT / "pages" / "3_Verify.py")


def page(user: str = "admin-agent", **query: str) -> AppTest:
    return open_page(PAGE, user, **query)


@pytest.fixture
def synced(sandbox_env):
    assert cli("sync") == 0
    return sandbox_env


def blocked(user_scope_rows: list[dict]) -> str:
    """A customer with no acceptance at all (neither an attestation nor direct)."""
    return next(
        r["customer_id"]
        for r in user_scope_rows
        if r["accepted"] is False and not r["attested"] and not r["direct_signed"]
    )


CUTOFF = datetime(2023, 4, 1, tzinfo=UTC)


def earlier_mca_only(user_scope_rows: list[dict]) -> dict:
    """A customer whose only acceptance is an attestation from before 2023-04-01 (the seed
    holds about 1 in 5 such customers)."""
    return next(
        r
        for r in user_scope_rows
        if r["latest_date_agreed"] is not None
        and r["latest_date_agreed"] < CUTOFF
        and not r["direct_signed"]
    )


def rows() -> list[dict]:
    store = Store(load_settings().resolved_store_url)
    return store.snapshot_rows(store.latest_snapshot().id)


def test_signed_out_is_sent_home(sandbox_env):
    at = run(AppTest.from_file(PAGE, default_timeout=60))
    assert "sign in" in at.warning[0].value.lower()


def test_helpdesk_verifies_a_blocked_customer_and_is_told_to_invite(synced):
    customer_id = blocked(rows())
    at = run(page("helpdesk-agent", customer=customer_id))
    assert at.selectbox(key="vf_customer").value == customer_id
    assert "Not accepted" in at.error[0].value and "13605" in at.error[0].value
    page_text = texts(at)
    assert "Send the customer an invitation" in page_text
    assert "Send an invitation to accept" in page_text
    assert "Attest for this customer" not in page_text
    assert "No MCA attestation." in page_text
    assert {m.label: m.value for m in at.metric}["Direct acceptance"] == "No"
    [event] = Store(load_settings().resolved_store_url).audit(action="verify")
    assert (event.outcome, event.customer_id) == ("not_accepted", customer_id)


@pytest.mark.classic_tenant
def test_an_attestation_made_here_names_the_agent(synced):
    customer_id = blocked(rows())
    assert (
        cli(
            "attest",
            customer_id,
            "--first-name",
            "Jane",
            "--last-name",
            "Doe",
            "--email",
            "jane@example.com",
            "--date",
            "2025-11-20",
        )
        == 0
    )
    at = run(page(customer=customer_id))
    assert any("Accepted" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert list(table["Attested by"]) == ["Megan Bowen (Admin agent)"]
    assert list(table["Email"]) == ["jane@example.com"]
    assert "Nothing to do" in texts(at)


def test_an_admin_is_sent_to_attest_with_the_customer_preselected(synced):
    customer_id = blocked(rows())
    at = run(page(customer=customer_id))
    page_text = texts(at)
    assert "If the customer has accepted the MCA, attest for it" in page_text
    assert "Attest for this customer" in page_text
    links = [p.proto for p in at.get("page_link")]
    if links:  # st.page_link when the page is reachable, else a markdown link
        assert any(f"customer={customer_id}" in str(p) for p in links)
    else:
        assert f"/Attest?customer={customer_id}" in page_text


def test_check_again_sees_a_direct_acceptance(synced):
    customer_id = blocked(rows())
    at = run(page(customer=customer_id))
    assert "Not accepted" in at.error[0].value
    Emulator(load_settings().emulator_dir).set_direct_signing(customer_id)
    run(at)  # cached: no new call until asked
    assert "Not accepted" in at.error[0].value
    run(at.button(key="vf_again").click())
    assert any("Accepted" in s.value for s in at.success)
    assert "the customer accepted in the Microsoft 365 admin center" in texts(at)


def test_indirect_reseller_is_told_to_ask_its_provider(sandbox_env):
    desk = Desk(load_settings())
    provider = desk.sandbox_actor("provider-admin")
    new = NewCustomer(
        company_name="Northwind Client",
        domain_prefix="northwindclient",
        email="it@northwindclient.example",
        address=Address(
            first_name="Ana", last_name="Ruiz", address_line1="1 Calle", city="Madrid", country="ES"
        ),
        associated_partner_id=NORTHWIND_TENANT_ID,
    )
    created = desk.run(
        lambda pc: create_customer(
            pc, desk.store, provider.identity, new, request_id=new_request_id()
        ),
        provider,
    )
    at = run(page("indirect-reseller", customer=created.customer.id))
    assert "Not accepted" in at.error[0].value
    page_text = texts(at)
    assert "Indirect resellers cannot attest" in page_text
    assert "Write to your indirect provider" in page_text
    assert "Attest for this customer" not in page_text


def test_an_unknown_customer_is_explained(synced):
    at = run(page(customer="00000000-0000-4000-8000-000000000001"))
    assert "Could not verify." in at.error[0].value
    assert "No customer with tenant id" in at.error[0].value


def test_verify_by_domain_without_a_sync(sandbox_env):
    at = run(page())
    assert "No synced customer list yet" in at.info[0].value
    out = io.StringIO()
    assert main(["--json", "customers"], out=out, err=io.StringIO()) == 0
    customer = json.loads(out.getvalue())[0]
    at = run(page(customer=customer["domain"]))
    assert customer["id"] in texts(at)
    assert at.metric  # the verdict figures


def test_chinese_verify(synced):
    at = page(customer=blocked(rows()))
    at.session_state["ui_language"] = "zh-CN"
    run(at)
    assert at.title[0].value == "核验客户"
    assert "未接受" in at.error[0].value
    assert "下一步" in texts(at)


def test_an_attestation_before_2023_04_01_must_be_accepted_again(synced):
    row = earlier_mca_only(rows())
    customer_id = row["customer_id"]
    latest = row["latest_date_agreed"].date().isoformat()
    at = run(page(customer=customer_id))
    assert not at.success and not at.error
    [verdict] = [w.value for w in at.warning]
    assert "Must re-accept the current MCA" in verdict
    assert f"latest acceptance ({latest})" in verdict and "before 2023-04-01" in verdict
    assert "New orders are refused until the customer accepts the current MCA" in verdict
    assert {m.label: m.value for m in at.metric}["Latest agreement date (UTC)"] == latest
    page_text = texts(at)
    assert "accepted an earlier MCA only and must accept the current one" in page_text
    assert "If the customer has accepted the MCA, attest for it" in page_text  # same next step
    assert "Attest for this customer" in page_text and "Send an invitation to accept" in page_text
    [event] = Store(load_settings().resolved_store_url).audit(action="verify")
    assert (event.outcome, event.customer_id) == ("reacceptance_required", customer_id)


@pytest.mark.classic_tenant
def test_an_attestation_of_the_current_mca_lets_orders_through_again(synced):
    customer_id = earlier_mca_only(rows())["customer_id"]
    today = datetime.now(UTC).date().isoformat()
    attest = ["attest", customer_id, "--first-name", "Jane", "--last-name", "Doe"]
    assert cli(*attest, "--email", "jane@example.com", "--date", today) == 0
    at = run(page(customer=customer_id))
    assert any("Accepted" in s.value for s in at.success) and not at.warning
    assert "Nothing to do" in texts(at)


def test_chinese_reacceptance_verdict(synced):
    at = page(customer=earlier_mca_only(rows())["customer_id"])
    at.session_state["ui_language"] = "zh-CN"
    run(at)
    assert "需重新接受当前 MCA" in at.warning[0].value and "2023-04-01" in at.warning[0].value
    assert "客户仅接受过旧版 MCA" in texts(at)
