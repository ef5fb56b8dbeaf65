"""The verify use case over the in-process emulator: attestations newest first with who attested,
direct acceptance, the verdict, and the next step per role and partner type."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mca_core.domain import errors
from mca_core.domain.models import Attestation, AuditEvent, Contact, Role
from mca_core.emulator import SANDBOX_USERS
from mca_core.store.database import Store
from mca_core.usecases.attestation import attest_customer
from mca_core.usecases.verify import attribute, next_step_for, verify_customer

ADMIN = SANDBOX_USERS["admin-agent"].identity()
HELPDESK = SANDBOX_USERS["helpdesk-agent"].identity()
RESELLER = SANDBOX_USERS["indirect-reseller"].identity()


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")


async def customer_where(pc, *, attested: bool, signed: bool) -> str:
    for customer in await pc.list_customers():
        has = bool(await pc.get_attestations(customer.id))
        if has == attested and (await pc.get_direct_signing_status(customer.id)) == signed:
            return customer.id
    pytest.fail("no seeded customer matches")


async def test_an_attestation_made_here_names_the_agent_from_the_audit_log(make_client, store):
    pc = make_client()
    customer_id = await customer_where(pc, attested=False, signed=False)
    before = await verify_customer(pc, store, ADMIN, customer_id)
    assert (before.accepted, before.can_order, before.next_step) == (False, False, "attest")
    assert before.verdict == "not accepted" and before.attestations == ()

    await attest_customer(
        pc,
        store,
        ADMIN,
        customer=customer_id,
        first_name="Jane",
        last_name="Doe",
        email="Jane@Example.com",
        date_agreed=date(2026, 1, 5),
    )
    after = await verify_customer(pc, store, ADMIN, customer_id)
    assert (after.accepted, after.can_order, after.next_step) == (True, True, "none")
    [item] = after.attestations
    assert item.attested_by == "Megan Bowen"
    assert (item.attested_by_source, item.attested_by_role) == ("audit", "admin_agent")
    assert item.attested_at is not None
    assert item.attestation.date_agreed.date() == date(2026, 1, 5)
    verifies = store.audit(action="verify")
    assert [e.outcome for e in verifies] == ["accepted", "not_accepted"]
    assert all(e.customer_id == customer_id for e in verifies)


async def test_a_seeded_attestation_falls_back_to_the_partner_center_user(make_client, store):
    pc = make_client()
    customer_id = await customer_where(pc, attested=True, signed=False)
    found = await verify_customer(pc, store, HELPDESK, customer_id)
    assert found.accepted and not found.direct_signed
    dates = [v.attestation.date_agreed for v in found.attestations]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert found.attestations[0].attested_by_source == "partner_center"
    assert found.attestations[0].attested_by == found.attestations[0].attestation.user_id


async def test_direct_acceptance_alone_means_accepted(make_client, emulator, store):
    pc = make_client()
    customer_id = await customer_where(pc, attested=False, signed=False)
    emulator.set_direct_signing(customer_id)
    found = await verify_customer(pc, store, HELPDESK, customer_id)
    assert found.direct_signed and found.accepted and found.can_order
    assert found.attestations == () and found.next_step == "none"


async def test_verify_by_domain(make_client, store):
    pc = make_client()
    customer = (await pc.list_customers())[3]
    found = await verify_customer(pc, store, ADMIN, customer.domain.upper())
    assert found.customer.id == customer.id


async def test_next_step_depends_on_who_asks(make_client, store):
    pc = make_client("helpdesk-agent")
    customer_id = await customer_where(pc, attested=False, signed=False)
    found = await verify_customer(pc, store, HELPDESK, customer_id)
    assert found.next_step == "invite"
    assert "invitation" in found.next_step_text

    reseller_pc = make_client("indirect-reseller")
    theirs = await customer_where(reseller_pc, attested=False, signed=False)
    found = await verify_customer(reseller_pc, store, RESELLER, theirs)
    assert found.next_step == "ask_provider"
    assert next_step_for(RESELLER, accepted=True) == "none"


async def test_unknown_customer_is_invalid_and_audited(make_client, store):
    pc = make_client()
    unknown = "00000000-0000-4000-8000-000000000001"
    with pytest.raises(errors.InvalidInput) as caught:
        await verify_customer(pc, store, ADMIN, unknown)
    assert caught.value.problems[0].code == "unknown_customer"
    [event] = store.audit()
    assert (event.action, event.outcome, event.customer_id) == ("verify", "invalid", unknown)


async def test_an_agent_without_a_role_is_refused(make_client, store):
    nobody = ADMIN.model_copy(update={"role": Role.NONE})
    with pytest.raises(errors.AccessRefused):
        await verify_customer(make_client(), store, nobody, "contoso.onmicrosoft.com")
    assert store.audit()[0].outcome == "refused"


def test_attribution_matches_email_and_day_once_each():
    def item(email: str, day: int, user: str) -> Attestation:
        return Attestation(
            primary_contact=Contact(first_name="A", last_name="B", email=email),
            template_id="t",
            date_agreed=datetime(2026, 1, day, tzinfo=UTC),
            user_id=user,
        )

    def event(email: str, day: int, name: str) -> AuditEvent:
        return AuditEvent(
            user_id=name.lower(),
            user_name=name,
            role="sales_agent",
            action="bulk_attest",
            outcome="attested",
            inputs={"email": email, "date_agreed": f"2026-01-{day:02d}"},
        )

    attestations = [item("a@x.com", 9, "u1"), item("b@x.com", 5, "u2"), item("a@x.com", 5, "u3")]
    events = [event("A@X.com", 9, "Adele"), event("b@x.com", 6, "Lee")]
    rows = attribute(attestations, events)
    assert [r.attested_by for r in rows] == ["Adele", "u2", "u3"]
    assert [r.attested_by_source for r in rows] == ["audit", "partner_center", "partner_center"]
