"""The sync engine against the emulator in-process: call counts per mode, incremental reuse,
failures and throttling that do not stop it, cancellation that keeps what was fetched."""

from __future__ import annotations

import threading
from datetime import date

import httpx
import pytest

from mca_core.domain.models import CURRENT_MCA_SINCE, Contact
from mca_core.emulator import SANDBOX_USERS, FaultConfig
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store
from mca_core.usecases.sync import snapshot_scope, sync_acceptance

from .conftest import SMALL_PORTFOLIO, Sleeper

ADMIN = SANDBOX_USERS["admin-agent"].identity()


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


async def truth(pc, current: bool = False):
    """What each customer really is, asked the long way (`current`: attested on or after the
    current MCA's cutoff, 2023-04-01, rather than attested at all)."""
    out = {}
    for c in await pc.list_customers():
        attestations = await pc.get_attestations(c.id)
        if current:
            attestations = [a for a in attestations if a.date_agreed.date() >= CURRENT_MCA_SINCE]
        out[c.id] = (bool(attestations), await pc.get_direct_signing_status(c.id))
    return out


async def test_default_mode_stops_at_first_evidence_full_asks_both(make_client, store):
    facts = await truth(make_client())
    current = await truth(make_client(), current=True)
    attested_now = sum(1 for a, _ in current.values() if a)
    pc = make_client()
    summary = await sync_acceptance(pc, store, ADMIN, backend="sandbox", source="per_customer")
    assert summary.customers == SMALL_PORTFOLIO and summary.failed == 0
    # a current attestation is proof enough; an old one (or none) also asks direct signing
    assert summary.api_calls == 1 + attested_now + 2 * (SMALL_PORTFOLIO - attested_now)
    assert summary.accepted == sum(1 for a, s in current.values() if a or s)
    old_only = sum(1 for c, (a, s) in facts.items() if a and not current[c][0] and not s)
    assert summary.reacceptance_required == old_only > 0
    assert summary.accepted + summary.reacceptance_required + summary.not_accepted == (
        SMALL_PORTFOLIO
    )
    full = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="per_customer", mode="full"
    )
    assert full.api_calls == 1 + 2 * SMALL_PORTFOLIO
    assert full.accepted == summary.accepted
    assert full.direct_signed == sum(1 for _, s in facts.values() if s)
    rows = store.snapshot_rows(full.snapshot_id)
    assert {r["customer_id"]: (r["attested"], r["direct_signed"]) for r in rows} == facts


async def test_incremental_reasks_only_the_not_accepted(make_client, store):
    first = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="per_customer"
    )
    pc = make_client()
    again = await sync_acceptance(
        pc, store, ADMIN, backend="sandbox", source="per_customer", incremental=True
    )
    assert again.reused == first.accepted
    asked = first.not_accepted + first.reacceptance_required
    assert again.api_calls == 1 + 2 * asked  # no current attestation: both reads each
    assert again.accepted == first.accepted

    # a customer attested since: the next incremental sync sees it
    rows = store.snapshot_rows(again.snapshot_id)
    target = next(r["customer_id"] for r in rows if not r["accepted"])
    await pc.attest(
        target, Contact(first_name="Li", last_name="Na", email="li@example.cn"), date(2026, 1, 2)
    )
    third = await sync_acceptance(
        make_client(), store, ADMIN, backend="sandbox", source="per_customer", incremental=True
    )
    assert third.accepted == first.accepted + 1
    latest = {r["customer_id"]: r for r in store.snapshot_rows(third.snapshot_id)}
    assert latest[target]["latest_contact_email"] == "li@example.cn"


async def test_one_failing_customer_does_not_stop_the_sync(emulator, make_client, store):
    victim = (await make_client().list_customers())[7].id
    inner = emulator.transport()

    class Breaking(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if victim in request.url.path:
                return httpx.Response(500, json={"code": 500, "message": "broken"})
            return await inner.handle_async_request(request)

    pc = make_client(transport=Breaking(), sleep=Sleeper(), retry=RetryPolicy(max_attempts=2))
    summary = await sync_acceptance(pc, store, ADMIN, backend="sandbox", source="per_customer")
    assert summary.failed == 1 and summary.customers == SMALL_PORTFOLIO
    rows = {r["customer_id"]: r for r in store.snapshot_rows(summary.snapshot_id)}
    assert "ServiceUnavailable" in rows[victim]["error"] and rows[victim]["accepted"] is None
    assert sum(1 for r in rows.values() if r["error"]) == 1


async def test_throttling_slows_the_whole_sync_and_it_completes(emulator, make_client, store):
    emulator.faults = FaultConfig(fault_429=0.2, retry_after_seconds=2, fault_seed=3)
    sleeper = Sleeper()
    pc = make_client(sleep=sleeper, retry=RetryPolicy(max_attempts=10))
    summary = await sync_acceptance(pc, store, ADMIN, backend="sandbox", source="per_customer")
    assert summary.failed == 0 and summary.customers == SMALL_PORTFOLIO
    assert summary.throttled > 0
    assert pc.limiter.throttle_events == summary.throttled
    assert any(w >= 2 for w in sleeper.waits)  # Retry-After honoured


async def test_cancel_keeps_what_was_fetched(make_client, store):
    cancel = threading.Event()
    seen = []

    def progress(done, total, phase):
        seen.append((done, total, phase))
        if phase == "status" and done >= 10:
            cancel.set()

    summary = await sync_acceptance(
        make_client(),
        store,
        ADMIN,
        backend="sandbox",
        source="per_customer",
        progress=progress,
        cancel=cancel,
        concurrency=2,
    )
    assert summary.complete is False
    rows = store.snapshot_rows(summary.snapshot_id)
    assert 10 <= len(rows) < SMALL_PORTFOLIO
    assert store.latest_snapshot(snapshot_scope(ADMIN, "sandbox")).complete is False
    assert seen[-1][1] == SMALL_PORTFOLIO
    assert store.audit(action="sync")[0].outcome == "cancelled"


async def test_a_user_without_an_agent_role_may_not_sync(make_client, store):
    from mca_core.domain.errors import AccessRefused
    from mca_core.domain.models import Role

    nobody = ADMIN.model_copy(update={"role": Role.NONE})
    pc = make_client()
    with pytest.raises(AccessRefused):
        await sync_acceptance(pc, store, nobody, backend="sandbox")
    assert pc.stats.calls == 0
