"""AppTest of the overview page: KPIs match the snapshot, filters change the table, downloads."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main
from mca_core.usecases.metrics import customers_frame, kpis, row_blocked

from .conftest import ROOT

PAGE = str(ROOT / "pages" / "1_Overview.py")


def page(user="admin-agent") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state["sandbox_user_key"] = user
    return at


@pytest.fixture
def synced(sandbox_env):
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    return sandbox_env


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_signed_out_is_sent_home(sandbox_env):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert "sign in" in at.warning[0].value.lower()


def test_no_snapshot_offers_a_sync_that_fills_the_page(sandbox_env):
    at = page()
    at.run()
    assert not at.exception
    assert "No acceptance data yet" in at.info[0].value
    next(b for b in at.button if b.label.startswith("Sync now")).click()
    at.run()
    assert not at.exception
    assert metric_values(at)["Customers"] == "40"


@pytest.mark.classic_tenant
def test_kpis_match_the_snapshot_and_filters_change_the_table(synced):
    from mca_core.config import load_settings
    from mca_core.store.database import Store

    settings = load_settings()
    store = Store(settings.resolved_store_url)
    snap = store.latest_snapshot()
    rows = store.snapshot_rows(snap.id)
    expected = kpis(customers_frame(rows, current_since=settings.current_mca_since))
    at = page()
    at.run()
    assert not at.exception
    values = metric_values(at)
    assert values["Customers"] == f"{expected.customers:,}"
    assert values["Accepted"] == f"{expected.accepted:,}"
    assert values["Not accepted (orders refused)"] == f"{expected.not_accepted:,}"
    assert values["At risk: orders refused"] == f"{expected.at_risk:,}"
    assert values["Acceptance rate"] == f"{expected.rate:.1%}"
    assert len(at.dataframe[0].value) == 40
    at.multiselect(key="ov_status").set_value(["not_accepted"])
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == expected.not_accepted
    assert set(table["status"]) == {"Not accepted"}
    assert any(f"{expected.not_accepted:,} of 40" in c.value for c in at.caption)
    at.text_input(key="ov_text").set_value("zzzz-no-such-customer")
    at.run()
    assert len(at.dataframe[0].value) == 0
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download Excel"]


@pytest.mark.classic_tenant
def test_the_reacceptance_kpi_counts_acceptances_of_an_earlier_mca(synced):
    """About 1 in 5 sandbox customers holds only an attestation from before 2023-04-01: the
    KPI counts them, the caption names the cutoff, the filter and table show them, the export
    carries the state."""
    from mca_core.config import load_settings
    from mca_core.store.database import Store
    from ui.overview_blocks import export_frame

    settings = load_settings()
    assert settings.current_mca_since == date(2023, 4, 1)
    store = Store(settings.resolved_store_url)
    rows = store.snapshot_rows(store.latest_snapshot().id)
    expected = kpis(customers_frame(rows, current_since=settings.current_mca_since))
    old = [r for r in rows if row_blocked(r, settings.current_mca_since) and r["attested"]]
    assert expected.reacceptance_required == len(old) > 0
    assert expected.at_risk == expected.not_accepted + expected.reacceptance_required
    at = page()
    at.run()
    assert not at.exception
    values = metric_values(at)
    assert values["Must re-accept"] == f"{expected.reacceptance_required:,}"
    assert any("Acceptances before 2023-04-01 are of an earlier MCA" in c.value for c in at.caption)
    assert "Must re-accept (earlier MCA)" in at.multiselect(key="ov_status").options
    at.multiselect(key="ov_status").set_value(["reacceptance_required"])
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == expected.reacceptance_required
    assert set(table["status"]) == {"Must re-accept (earlier MCA)"}
    assert set(table["state"]) == {"Must re-accept (earlier MCA)"}
    assert set(table["domain"]) == {r["domain"] for r in old}
    exported = export_frame(customers_frame(rows, current_since=settings.current_mca_since))
    assert "state" in exported.columns
    states = dict(zip(exported["customer_id"], exported["state"], strict=True))
    assert {states[r["customer_id"]] for r in old} == {"reacceptance_required"}
    assert set(exported["state"]) <= {"accepted", "reacceptance_required", "not_accepted"}


@pytest.mark.classic_tenant
def test_the_reacceptance_kpi_shows_its_change_since_the_previous_sync(synced):
    from mca_core.config import load_settings
    from mca_core.store.database import Store

    settings = load_settings()
    store = Store(settings.resolved_store_url)
    rows = store.snapshot_rows(store.latest_snapshot().id)
    before = kpis(customers_frame(rows)).reacceptance_required
    old = next(r for r in rows if row_blocked(r) and r["attested"])
    attest = ["attest", old["customer_id"], "--first-name", "Jane", "--last-name", "Doe"]
    today = datetime.now(UTC).date().isoformat()
    assert main([*attest, "--email", "jane@example.com", "--date", today], out=io.StringIO(),
                err=io.StringIO()) == 0  # fmt: skip
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    at = page()
    at.run()
    assert not at.exception
    card = next(m for m in at.metric if m.label == "Must re-accept")
    assert card.value == f"{before - 1:,}"
    assert str(card.delta) == "-1"


def test_chinese_overview(synced):
    at = page()
    at.session_state["ui_language"] = "zh-CN"
    at.run()
    assert not at.exception
    assert at.title[0].value == "接受情况总览"
    assert "客户数" in metric_values(at)
    assert "需重新接受" in metric_values(at)
    assert any("2023-04-01 之前的接受属于旧版 MCA" in c.value for c in at.caption)


def test_reseller_sees_only_its_customers(sandbox_env):
    out = io.StringIO()
    assert main(["--json", "--as", "indirect-reseller", "sync"], out=out, err=io.StringIO()) == 0
    reseller_customers = json.loads(out.getvalue())["customers"]
    at = page("indirect-reseller")
    at.run()
    assert not at.exception
    assert metric_values(at)["Customers"] == f"{reseller_customers:,}"
    assert 0 < reseller_customers < 40


def test_report_command_writes_each_format(synced, tmp_path):
    for fmt in ("csv", "json", "xlsx"):
        target = tmp_path / f"r.{fmt}"
        out = io.StringIO()
        assert (
            main(
                ["--json", "report", "--format", fmt, "--out", str(target)],
                out=out,
                err=io.StringIO(),
            )
            == 0
        )
        doc = json.loads(out.getvalue())
        assert doc["rows"] == 40 and target.stat().st_size > 0
    rows = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert len(rows) == 40 and {"customer_id", "status", "accepted"} <= set(rows[0])
    header = (tmp_path / "r.csv").read_bytes().decode("utf-8-sig").splitlines()[0]
    assert header.startswith("customer_id,company_name,domain")


def test_report_without_a_sync_is_invalid_input(sandbox_env, tmp_path):
    err = io.StringIO()
    assert main(["report", "--out", str(tmp_path / "x.csv")], out=io.StringIO(), err=err) == 2
    assert "sync" in err.getvalue()


def test_a_sync_that_changes_nothing_shows_no_change(synced):
    """Two syncs of the same portfolio: every card's change is 0 (the breakdown used to show
    "Both -n, Accepted directly +n", and the rate a green "+0.0 pt")."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["sync"], out=out, err=err) == 0
    at = page().run()
    assert not at.exception
    deltas = {m.label: m.delta for m in at.metric if m.delta}  # "Could not be read": none
    assert {"Both", "Accepted directly", "By partner attestation", "Acceptance rate"} <= set(deltas)
    assert set(deltas.values()) == {"0"}, sorted(deltas.items())
