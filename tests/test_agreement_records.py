"""The agreement-records source of the sync (GET /v1/partners/customeragreementrecords): paging,
reading a record, the same state for every customer as the per-customer reads on the same
emulator data, the fallback when the source is absent, customers the records do not list, and
`confirm_with_direct_read`."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import httpx
import pytest

from mca_core.domain.errors import NotFound
from mca_core.domain.models import AgreementRecord, Contact, epoch_datetime
from mca_core.emulator import SANDBOX_USERS
from mca_core.store.database import Store
from mca_core.usecases.sync import row_state, sync_acceptance

from .conftest import SMALL_PORTFOLIO

ADMIN = SANDBOX_USERS["admin-agent"].identity()


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


def states(store: Store, snapshot_id: int) -> dict[str, str | None]:
    return {r["customer_id"]: row_state(r) for r in store.snapshot_rows(snapshot_id)}


async def varied(emulator, make_client) -> None:
    """Evidence of every kind: a directly signed customer that was not accepted, and an
    attestation of an earlier MCA (before the 2023 refresh) on a customer attested since."""
    pc = make_client()
    customers = await pc.list_customers()
    unsigned = [c for c in customers if not await pc.get_direct_signing_status(c.id)]
    emulator.set_direct_signing(unsigned[0].id, True)
    await pc.attest(unsigned[1].id, Contact(first_name="Old", last_name="Deal", email="o@x.com"),
                    date(2022, 5, 1))  # fmt: skip


@pytest.mark.classic_tenant
async def test_records_and_per_customer_reads_give_the_same_state_for_every_customer(
    emulator, make_client, store
):
    await varied(emulator, make_client)
    by_records = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="records"
    )
    per_customer = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="per_customer"
    )
    full = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="per_customer", mode="full"
    )
    assert by_records.source == "records" and per_customer.source == "per_customer"
    assert by_records.from_records == SMALL_PORTFOLIO and per_customer.from_records == 0
    first = states(store, by_records.snapshot_id)
    assert len(first) == SMALL_PORTFOLIO
    assert first == states(store, per_customer.snapshot_id) == states(store, full.snapshot_id)
    assert {"accepted", "reacceptance_required", "not_accepted"} <= set(first.values())
    for name in ("accepted", "reacceptance_required", "not_accepted", "failed"):
        assert getattr(by_records, name) == getattr(per_customer, name), name
    # one customer list page and one records page, instead of ~1.5 calls a customer
    assert by_records.api_calls == 2
    assert per_customer.api_calls > SMALL_PORTFOLIO


async def test_the_records_are_paged_with_their_continuation_token(emulator, make_client, store):
    emulator.records_page_size = 7
    pc = make_client()
    pages = [page async for page in pc.iter_agreement_record_pages()]
    assert [len(p) for p in pages] == [7] * (SMALL_PORTFOLIO // 7) + [SMALL_PORTFOLIO % 7]
    ids = [r.customer_id for p in pages for r in p]
    assert len(set(ids)) == SMALL_PORTFOLIO
    summary = await sync_acceptance(make_client(), store, ADMIN, backend="sandbox")
    assert summary.source == "records"
    assert summary.api_calls == 1 + math.ceil(SMALL_PORTFOLIO / 7)


async def test_auto_falls_back_to_per_customer_reads_when_the_records_answer_404(
    emulator, make_client, store
):
    with_records = await sync_acceptance(make_client(), store, ADMIN, backend="sandbox")
    emulator.agreement_records = False
    without = await sync_acceptance(make_client(), store, ADMIN, backend="sandbox")
    assert with_records.source == "records" and without.source == "per_customer"
    assert without.failed == 0 and without.complete
    assert states(store, with_records.snapshot_id) == states(store, without.snapshot_id)


async def test_records_asked_for_by_name_fail_the_sync_when_absent(emulator, make_client, store):
    emulator.agreement_records = False
    with pytest.raises(NotFound):
        await sync_acceptance(make_client(), store, ADMIN, backend="sandbox", source="records")
    assert store.latest_snapshot() is None
    assert [e.outcome for e in store.audit(action="sync")] == ["failed"]


class DropRecords(httpx.AsyncBaseTransport):
    """The emulator, except that its agreement records leave out some customers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, drop: set[str]):
        self.inner, self.drop = inner, drop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "customeragreementrecords" not in request.url.path or response.status_code != 200:
            return response
        await response.aread()
        body = json.loads(response.content)
        body["customerAgreementRecords"] = [
            r for r in body["customerAgreementRecords"] if r["customerTenantId"] not in self.drop
        ]
        return httpx.Response(
            200, json=body, headers={"MS-RequestId": "x", "MS-CorrelationId": "y"}
        )


async def test_customers_the_records_do_not_list_are_read_one_by_one(emulator, make_client, store):
    ids = [c.id for c in await make_client().list_customers()]
    drop = set(ids[:5])
    pc = make_client(transport=DropRecords(emulator.transport(), drop))
    summary = await sync_acceptance(pc, store, ADMIN, backend="sandbox")
    assert summary.source == "records" and summary.from_records == SMALL_PORTFOLIO - 5
    assert summary.complete and summary.failed == 0
    reference = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="per_customer"
    )
    assert states(store, summary.snapshot_id) == states(store, reference.snapshot_id)
    # the five were asked: at least one attestation read each
    assert summary.api_calls >= 2 + 5


@pytest.mark.classic_tenant
async def test_confirm_with_direct_read_asks_every_customer_without_a_current_acceptance(
    emulator, make_client, store
):
    await varied(emulator, make_client)
    plain = await sync_acceptance(make_client(), store, ADMIN, backend="sandbox")
    confirmed = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", confirm_with_direct_read=True
    )
    not_current = plain.not_accepted + plain.reacceptance_required
    assert not_current > 0
    assert confirmed.confirmed == not_current
    assert confirmed.api_calls == plain.api_calls + not_current
    assert states(store, plain.snapshot_id) == states(store, confirmed.snapshot_id)
    rows = {r["customer_id"]: r for r in store.snapshot_rows(confirmed.snapshot_id)}
    asked = [r for r in rows.values() if row_state(r) != "accepted"]
    assert asked and all(r["direct_signed"] is False for r in asked)


def test_a_record_reads_seconds_or_milliseconds_and_an_empty_date_as_no_acceptance():
    moment = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    seconds, millis = int(moment.timestamp()), int(moment.timestamp() * 1000)
    assert epoch_datetime(seconds) == moment == epoch_datetime(millis)
    assert epoch_datetime(str(millis)) == moment
    for empty in (None, 0, "", "0", -5, "soon"):
        assert epoch_datetime(empty) is None
    record = AgreementRecord.from_wire(
        {
            "customerTenantId": "ABC-1",
            "lastAgreementPrimaryContact": {"firstName": "", "lastName": "", "email": ""},
            "lastAgreementDateEpoch": 0,
        }
    )
    assert record.customer_id == "abc-1" and record.date is None
    assert record.contact is None and record.partner_attestation is False


async def test_a_full_sync_reads_customer_by_customer(make_client, store):
    """`--full` asks attestations and direct signing of every customer: no record says both."""
    full = await sync_acceptance(make_client(), store, ADMIN, backend="sandbox", mode="full")
    assert full.source == "per_customer" and full.from_records == 0
    rows = store.snapshot_rows(full.snapshot_id)
    assert all(r["direct_signed"] is not None for r in rows)


@pytest.mark.classic_tenant
@pytest.mark.parametrize("source", ["records", "per_customer"])
async def test_the_summary_counts_what_the_overview_counts(emulator, make_client, store, source):
    """The Overview compares the latest frame's KPIs with the previous snapshot's summary: the
    summary must count each status as the frame does, or an unchanged portfolio shows a change
    (it showed "Both -278, directly +278" on the sandbox)."""
    from mca_core.usecases import metrics

    await varied(emulator, make_client)
    summary = await sync_acceptance(make_client(), store, ADMIN, backend="sandbox", source=source)
    frame = metrics.customers_frame(store.snapshot_rows(summary.snapshot_id))
    assert metrics.kpis(frame) == metrics.kpis_from_summary(summary.as_dict())
    change = metrics.deltas(metrics.kpis(frame), metrics.kpis_from_summary(summary.as_dict()))
    assert set(change.values()) == {0}
