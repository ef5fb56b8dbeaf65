"""The 2023 MCA refresh: an acceptance dated before `current_mca_since` (default 2023-04-01) is of
an earlier MCA, and Partner Center refuses new orders until the customer accepts the current one.
The desk counts, shows and exports three states: accepted, reacceptance_required, not_accepted."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
import pytest

from mca_core import App, load_settings
from mca_core.domain.models import AcceptanceStatus, Attestation, Contact, acceptance_state
from mca_core.usecases import metrics

from .test_cli import run, run_json


def test_the_cutoff_day_itself_is_current():
    cutoff = date(2023, 4, 1)
    assert acceptance_state(datetime(2023, 3, 31, 23, 59, tzinfo=UTC), None, cutoff) == (
        "reacceptance_required"
    )
    assert acceptance_state(datetime(2023, 4, 1, tzinfo=UTC), None, cutoff) == "accepted"
    assert acceptance_state(datetime(2023, 3, 31, 12), None, cutoff) == "reacceptance_required"
    assert acceptance_state(date(2022, 1, 1), True, cutoff) == "accepted"  # signed directly
    assert acceptance_state(None, False, cutoff) == "not_accepted"
    assert acceptance_state(date(2022, 1, 1), False, date(2020, 1, 1)) == "accepted"


def _status(day: date, signed: bool | None) -> AcceptanceStatus:
    contact = Contact(first_name="Jane", last_name="Doe", email="jane@contoso.com")
    old = Attestation(
        primary_contact=contact,
        date_agreed=datetime(day.year, day.month, day.day, tzinfo=UTC),
        template_id="117a77b0-9360-443b-8795-c6dedc750cf9",
    )
    return AcceptanceStatus(customer_id="c", attestations=(old,), direct_signed=signed)


def test_an_old_attestation_alone_does_not_let_orders_through():
    status = _status(date(2021, 6, 1), False)
    assert status.state == "reacceptance_required"
    assert status.accepted is False and status.attested is True
    assert status.latest_acceptance_date == date(2021, 6, 1)
    assert _status(date(2021, 6, 1), True).accepted is True
    assert _status(date(2024, 6, 1), None).accepted is True


@pytest.fixture
def synced(sandbox_env):
    code, summary, _ = run_json("sync")
    assert code == 0
    code, out, _ = run("report", "--format", "json", "--out", "-")
    assert code == 0
    rows = json.loads(out)
    return summary, rows


def test_sync_counts_three_states_that_add_up(synced):
    summary, rows = synced
    assert summary["reacceptance_required"] > 0
    assert (
        summary["accepted"]
        + summary["reacceptance_required"]
        + summary["not_accepted"]
        + summary["failed"]
        == summary["customers"]
        == len(rows)
    )
    states = [r["state"] for r in rows]
    assert states.count("reacceptance_required") == summary["reacceptance_required"]
    assert states.count("accepted") == summary["accepted"]
    for row in rows:
        assert row["accepted"] is (row["state"] == "accepted")
        if row["state"] == "reacceptance_required":
            assert row["latest_date_agreed"] < "2023-04-01" and not row["direct_signed"]


def test_status_of_a_customer_with_only_a_pre_2023_attestation(synced):
    _, rows = synced
    old = next(r for r in rows if r["state"] == "reacceptance_required")
    code, doc, _ = run_json("status", old["customer_id"])
    assert code == 0
    assert doc["state"] == "reacceptance_required" and doc["accepted"] is False
    assert doc["latest_acceptance_date"] < "2023-04-01"
    assert doc["current_mca_since"] == "2023-04-01"
    code, text, _ = run("status", old["customer_id"])
    assert "RE-ACCEPTANCE REQUIRED" in text and "2023-04-01" in text


def test_the_cutoff_is_a_setting(synced, monkeypatch):
    _, rows = synced
    old = next(r for r in rows if r["state"] == "reacceptance_required")
    monkeypatch.setenv("MCA_CURRENT_MCA_SINCE", "2000-01-01")
    code, doc, _ = run_json("status", old["customer_id"])
    assert doc["state"] == "accepted" and doc["accepted"] is True
    monkeypatch.setenv("MCA_CURRENT_MCA_SINCE", "01/04/2023")
    code, _, err = run("status", old["customer_id"])
    assert code == 1 and "current_mca_since" in err and "Traceback" not in err  # configuration


def test_the_default_sync_reads_direct_signing_when_the_attestation_is_old(synced):
    """An old attestation is no proof of the current MCA: the customer may have accepted it
    directly, so the cheap mode asks `isSigned` too (and stops at a current attestation)."""
    _, rows = synced
    old = next(r for r in rows if r["state"] == "reacceptance_required")
    current = next(
        r for r in rows if r["state"] == "accepted" and (r["latest_date_agreed"] or "") > "2023-04"
    )
    app = App.from_settings(load_settings())
    seen: list[str] = []
    inner = app.backend.transport()

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            seen.append(request.url.path)
            return await inner.handle_async_request(request)

    app.backend.transport = lambda: Counting()  # type: ignore[method-assign]
    from mca_core.usecases.status import acceptance_status

    async def read(customer_id):
        async with app.desk.client(app.sandbox_actor().tokens) as pc:
            return await acceptance_status(pc, customer_id, mode="first_evidence")

    from mca_core import run_sync

    assert run_sync(read(old["customer_id"])).direct_signed is False
    assert any(p.endswith("directSignedMicrosoftCustomerAgreementStatus") for p in seen)
    seen.clear()
    assert run_sync(read(current["customer_id"])).accepted
    assert not any(p.endswith("directSignedMicrosoftCustomerAgreementStatus") for p in seen)


def test_an_incremental_sync_asks_again_a_row_accepted_on_an_old_attestation(synced):
    """A snapshot from before the desk knew the refresh stored `accepted` for old attestations:
    the incremental sync judges the row's evidence, so it asks such a customer again."""
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor()
    snapshot = app.latest_snapshot(actor.identity)
    rows = app.snapshot_rows(snapshot)
    old = [r for r in rows if metrics.row_blocked(r) and r.get("attested")]
    assert old
    code, summary, _ = run_json("sync", "--incremental", "--source", "per-customer")
    assert code == 0 and summary["source"] == "per_customer"
    assert summary["reused"] == sum(1 for r in rows if not metrics.row_blocked(r) and r["accepted"])
    assert summary["reacceptance_required"] == len(old)
