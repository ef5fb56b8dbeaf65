"""AppTest of the enhanced channel on screen: the channel shown on the home and Attest pages, the
Attest page's enhanced path (signer form, link, invitation, Finalise before and after the
customer accepts, the sandbox's "play the customer", an expired link renewed, Chinese), and the
overview's pipeline cards and work list."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.emulator import SANDBOX_USERS
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore

from .apptest import open_page, run, texts
from .conftest import ROOT

ATTEST = str(ROOT / "pages" / "2_Attest.py")
OVERVIEW = str(ROOT / "pages" / "1_Overview.py")
HOME = str(ROOT / "dashboard.py")
ADMIN = SANDBOX_USERS["admin-agent"].identity()
CREATE = "FormSubmitter:enh_form-Create attestation and link"


def app(path: str, user: str = "admin-agent", **query: str) -> AppTest:
    return open_page(path, user, **query)


def store() -> Store:
    return Store(load_settings().resolved_store_url)


def rows(customer_id: str):
    return EnhancedStore(store()).for_customer(ADMIN.partner_tenant_id, customer_id)


@pytest.fixture
def enhanced_env(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_ATTESTATION_CHANNEL", "enhanced")
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    return sandbox_env


def blocked(n: int = 0) -> dict:
    s = store()
    found = [r for r in s.snapshot_rows(s.latest_snapshot().id) if r["accepted"] is False]
    return sorted(found, key=lambda r: r["customer_id"])[n]


def fill_signer(at: AppTest, email: str = "li.wei@example.com") -> None:
    at.text_input(key="enh_first").set_value("Wei")
    at.text_input(key="enh_last").set_value("Li")
    at.text_input(key="enh_email").set_value(email)


def test_the_channel_in_use_is_shown_on_home_and_attest(sandbox_env, monkeypatch):
    home = run(app(HOME))
    assert "Attestation channel: Enhanced" in texts(home)  # production's only way since 2026
    attest = run(app(ATTEST))
    assert "Attestation channel: Enhanced" in texts(attest)
    monkeypatch.setenv("MCA_ATTESTATION_CHANNEL", "classic")
    shown = texts(run(app(HOME)))
    assert "Attestation channel: Classic" in shown and "retired by Microsoft on 2026-01-05" in shown


@pytest.mark.classic_tenant
def test_classic_installation_keeps_the_classic_form_and_no_pipeline(sandbox_env):
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    customer = blocked()["customer_id"]
    at = run(app(ATTEST, customer=customer))
    assert at.text_input(key="ex_first") and not [w for w in at.text_input if w.key == "enh_first"]
    overview = run(app(OVERVIEW))
    assert "Customers" in {m.label for m in overview.metric}  # the page itself is there
    assert "Enhanced attestation pipeline" not in texts(overview)
    assert "Links pending" not in {m.label for m in overview.metric}


def test_enhanced_path_create_finalise_play_the_customer_finalise(enhanced_env, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "false")  # the agent finalises by hand here
    row = blocked()
    at = run(app(ATTEST, customer=row["customer_id"]))
    assert at.text_input(key="enh_company").value == row["company_name"]  # from Partner Center
    assert at.selectbox(key="enh_country").value == row["country"]
    at.text_input(key="enh_first").set_value("Wei")
    at.text_input(key="enh_email").set_value("not-an-email")
    run(at.button(key=CREATE).click())
    problems = at.error[-1].value
    assert "Last name" in problems and "Email" in problems
    assert at.text_input(key="enh_first").value == "Wei"  # what was typed stays
    assert rows(row["customer_id"]) == []  # nothing was stored or sent

    fill_signer(at)
    run(at.button(key=CREATE).click())
    assert any("Attestation created" in s.value for s in at.success)
    [record] = rows(row["customer_id"])
    assert record.state is AttestationState.LINK_SENT
    assert record.acceptance_link in [c.value for c in at.code]
    assert "no browser can open this link" in texts(at)  # the embedded sandbox says so

    run(at.button(key="enhb_inv_prepare").click())
    body = "\n".join(c.value for c in at.code)
    assert "Hello Wei Li" in body and record.acceptance_link in body

    run(at.button(key="enhb_finalise").click())
    assert any("has not accepted yet" in w.value for w in at.warning)
    assert rows(row["customer_id"])[0].state is AttestationState.LINK_SENT  # kept

    run(at.button(key="enhb_play").click())
    assert any("the customer accepted the agreement" in s.value for s in at.success)
    assert rows(row["customer_id"])[0].state is AttestationState.ACCEPTED
    assert "ready to finalise" in texts(at)

    run(at.button(key="enhb_finalise").click())
    assert any("Agreement created" in s.value for s in at.success)
    assert rows(row["customer_id"])[0].state is AttestationState.AGREEMENT_CREATED
    assert any(s.value.startswith("**Accepted**") for s in at.success)  # read again, live
    outcomes = [e.outcome for e in store().audit(action="finalise")]
    assert outcomes == ["attested", "not_accepted"]


def test_an_expired_link_offers_a_new_one_with_the_same_details(enhanced_env):
    row = blocked(1)
    at = run(app(ATTEST, customer=row["customer_id"]))
    fill_signer(at)
    run(at.button(key=CREATE).click())
    journal = EnhancedStore(store())
    [record] = journal.for_customer(ADMIN.partner_tenant_id, row["customer_id"])
    journal.save(record, expires_at=datetime.now(UTC) - timedelta(minutes=1))  # time passed
    at = run(app(ATTEST, customer=row["customer_id"]))
    assert "Link expired" in texts(at)
    assert at.text_input(key="enh_email").value == "li.wei@example.com"  # the same details
    run(at.button(key="FormSubmitter:enh_form-Create a new link").click())
    assert any("Attestation created" in s.value for s in at.success)
    fresh, old = rows(row["customer_id"])
    assert fresh.state is AttestationState.LINK_SENT and fresh.attestation_id != old.attestation_id


def test_enhanced_path_in_chinese(enhanced_env):
    row = blocked(2)
    signer = ["--first-name", "Mei", "--last-name", "Chen", "--email", "mei@example.com"]
    assert main(["attest", row["customer_id"], *signer], out=io.StringIO()) == 0
    at = app(ATTEST, customer=row["customer_id"])
    at.session_state["ui_language"] = "zh-CN"
    run(at)
    labels = [w.label for w in at.text_input]
    assert "签署人名" in labels and "签署人电子邮件" in labels
    shown = texts(at)
    assert "证明渠道：增强" in shown
    assert "链接已发送 — 等待客户接受" in shown and "链接有效期至" in shown
    assert [b.label for b in at.button if b.key == "enhb_finalise"] == ["完成：创建协议"]
    assert "简体中文 (zh-CN)" in at.selectbox(key="enh_language").options


def test_overview_pipeline_cards_and_work_list(enhanced_env, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "false")  # the agent finalises by hand here
    env = ["--json", "attest"]
    signer = ["--first-name", "Mei", "--last-name", "Chen", "--email", "mei@example.com"]
    pending, ready = blocked(0)["customer_id"], blocked(1)["customer_id"]
    for customer in (pending, ready):
        assert main([*env, customer, *signer], out=io.StringIO(), err=io.StringIO()) == 0
    accept = EnhancedStore(store()).for_customer(ADMIN.partner_tenant_id, ready)[0]
    assert main(["sandbox-accept", accept.attestation_id], out=io.StringIO()) == 0

    at = run(app(OVERVIEW))
    assert "Enhanced attestation pipeline" in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    total_blocked = len(
        [r for r in store().snapshot_rows(store().latest_snapshot().id) if r["accepted"] is False]
    )
    assert metrics["Links pending"] == "2" and metrics["Expired links"] == "0"
    assert metrics["MCA required"] == str(total_blocked - 2)
    assert metrics["Ready to finalise"] == "0"  # the desk has not read the status yet

    run(at.button(key="pipeb_refresh").click())
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Links pending"], metrics["Ready to finalise"]) == ("1", "1")
    work = at.dataframe[0].value
    assert work.iloc[0]["Stage"] == "Ready to finalise"  # what to do first comes first
    assert len(work) == total_blocked
