"""AppTest of the Audit page: every attempt of the user's partner (and no other partner's),
filters, the CSV export, and never a secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.config import load_settings
from mca_core.desk import Desk
from mca_core.domain.models import Address, NewCustomer
from mca_core.store.database import Store
from mca_core.usecases import reports
from mca_core.usecases.customers import create_customer, new_request_id

from .apptest import cli, open_page, run
from .conftest import ROOT

PAGE = str(ROOT / "pages" / "5_Audit.py")


def page(user: str = "admin-agent") -> AppTest:
    return open_page(PAGE, user)


def table(at: AppTest):
    return at.dataframe[0].value


@pytest.fixture
def history(sandbox_env) -> dict[str, str]:
    """A few attempts: Contoso's admin attests (one ok, one invalid), its helpdesk agent is
    refused, its sales agent creates a customer (a password comes back), Fabrikam syncs."""
    assert cli("sync") == 0
    store = Store(load_settings().resolved_store_url)
    rows = store.snapshot_rows(store.latest_snapshot().id)
    blocked = [r for r in rows if r["accepted"] is False]
    ok = blocked[0]["customer_id"]
    assert (
        cli(
            "attest",
            ok,
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
    assert (
        cli(
            "attest",
            blocked[1]["customer_id"],
            "--first-name",
            "J4ne",
            "--last-name",
            "Doe",
            "--email",
            "jane@example.com",
            "--date",
            "2025-11-20",
        )
        == 2
    )
    assert (
        cli(
            "--as",
            "helpdesk-agent",
            "attest",
            ok,
            "--first-name",
            "Lee",
            "--last-name",
            "Gu",
            "--email",
            "lee@example.com",
            "--date",
            "2025-11-20",
        )
        == 3
    )
    assert cli("--as", "provider-admin", "sync") == 0
    desk = Desk(load_settings())
    sales = desk.sandbox_actor("sales-agent")
    new = NewCustomer(
        company_name="Audit Co",
        domain_prefix="auditco",
        email="it@auditco.example",
        address=Address(
            first_name="Al", last_name="Bo", address_line1="1 Road", city="Leeds", country="GB"
        ),
    )
    created = desk.run(
        lambda pc: create_customer(
            pc, desk.store, sales.identity, new, request_id=new_request_id()
        ),
        sales,
    )
    assert created.credentials is not None
    return {
        "attested": ok,
        "company": blocked[0]["company_name"],
        "password": created.credentials.password.get_secret_value(),
    }


def test_helpdesk_agent_is_refused(sandbox_env):
    at = run(page("helpdesk-agent"))
    assert "may not read the audit log" in at.error[0].value
    assert not at.dataframe


@pytest.mark.classic_tenant
def test_every_attempt_of_the_partner_and_no_other(history):
    at = run(page())
    shown = table(at)
    actions = list(shown["action"])
    assert actions.count("attest") == 3 and "create customer" in actions
    assert actions.count("sync") == 1  # Fabrikam's sync is not Contoso's business
    assert set(shown["user"]) == {"Megan Bowen", "Adele Vance", "Lee Gu"}
    assert {"Admin agent", "Sales agent", "Helpdesk agent"} <= set(shown["role"])
    assert "refused" in set(shown["outcome"])
    attested = shown[shown["outcome"] == "attested"].iloc[0]
    assert attested["request_id"] and attested["customer"].endswith(history["attested"])
    assert history["company"] in attested["customer"]
    assert set(shown["mark"]) == {"✅", "⛔"}
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Failed or refused"] == "2"
    assert "UTC" in at.caption[0].value


def test_filters(history):
    at = run(page())
    run(at.multiselect(key="au_outcomes").set_value(["invalid"]))
    assert list(table(at)["outcome"]) == ["invalid"]
    run(at.multiselect(key="au_outcomes").set_value([]))
    run(at.text_input(key="au_customer").set_value(history["company"][:6].lower()))
    assert set(table(at)["customer"]) == {f"{history['company']} · {history['attested']}"}
    run(at.text_input(key="au_customer").set_value(""))
    users = at.multiselect(key="au_users")
    adele = next(u for u in users.options if "Adele" in str(u))
    run(users.set_value([adele]))
    assert set(table(at)["user"]) == {"Adele Vance"}
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    run(
        at.date_input(key="au_dates").set_value(
            (tomorrow - timedelta(days=400), tomorrow - timedelta(days=300))
        )
    )
    assert "No attempt matches" in at.info[0].value


def test_csv_export_holds_the_rows_and_never_a_secret(history, monkeypatch):
    exported: list[bytes] = []
    real = reports.export_table

    def capture(rows, fmt, **kw):
        data = real(rows, fmt, **kw)
        exported.append(data)
        return data

    monkeypatch.setattr(reports, "export_table", capture)
    at = run(page())
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    text = exported[-1].decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.startswith("at_utc,user,role,action,customer_id,company_name,outcome")
    assert history["attested"] in text and "create_customer" in text
    assert history["password"] not in text
    assert len(text.splitlines()) == len(table(at)) + 1


@pytest.mark.classic_tenant
def test_chinese_audit(history):
    at = page()
    at.session_state["ui_language"] = "zh-CN"
    run(at)
    assert at.title[0].value == "审计日志"
    assert "证明" in set(table(at)["action"])
