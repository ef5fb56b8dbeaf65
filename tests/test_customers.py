"""The new-customer use case over the in-process emulator: validation before any call, access,
audit without the password, and the two-call flow (create, then attest) with a safe retry."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
import pytest

from mca_core.domain import errors
from mca_core.domain.models import Address, Contact, NewCustomer
from mca_core.emulator import SANDBOX_USERS
from mca_core.emulator.directory import NORTHWIND_TENANT_ID
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store
from mca_core.usecases.customers import (
    check_culture,
    check_new_customer,
    create_customer,
    create_customer_with_attestation,
    culture_language,
    new_request_id,
    request_id_after,
)

ADMIN = SANDBOX_USERS["admin-agent"].identity()
HELPDESK = SANDBOX_USERS["helpdesk-agent"].identity()
PROVIDER = SANDBOX_USERS["provider-admin"].identity()
JANE = Contact(first_name="Jane", last_name="Doe", email="jane@wingtip.example")


def new_customer(prefix: str = "wingtiptoys", **changes: object) -> NewCustomer:
    address = Address(
        first_name="Jane",
        last_name="Doe",
        address_line1="1 Main Street",
        city="Redmond",
        state="WA",
        postal_code="98052",
        country="us",
    )
    base = NewCustomer(
        company_name="Wingtip Toys",
        domain_prefix=prefix,
        email="jane@wingtip.example",
        culture="en-US",
        language="",
        address=address,
    )
    return base.model_copy(update=changes)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")


class FailingAgreements(httpx.AsyncBaseTransport):
    """The emulator, except that attestation POSTs answer 503 (the customer gets created)."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.failed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/agreements"):
            self.failed += 1
            return httpx.Response(
                503,
                json={"code": 503, "message": "Service unavailable"},
                headers={"MS-RequestId": request.headers["MS-RequestId"]},
            )
        return await self.inner.handle_async_request(request)


def all_text(store: Store) -> str:
    return json.dumps([e.model_dump(mode="json") for e in store.audit()])


async def test_create_customer_returns_credentials_and_audits_without_password(make_client, store):
    pc = make_client()
    created = await create_customer(pc, store, ADMIN, new_customer(), request_id=new_request_id())
    assert created.customer.domain == "wingtiptoys.onmicrosoft.com"
    assert created.credentials is not None
    assert created.credentials.user_name == "admin@wingtiptoys.onmicrosoft.com"
    password = created.credentials.password.get_secret_value()
    assert len(password) >= 8
    [event] = store.audit()
    assert (event.action, event.outcome) == ("create_customer", "created")
    assert event.customer_id == created.customer.id
    assert event.inputs["country"] == "US"  # cleaned before the call
    assert password not in all_text(store)


async def test_invalid_new_customer_reports_every_field_before_any_call(make_client, store):
    pc = make_client()
    bad = new_customer(
        prefix="Wing Tip!",
        company_name=" ",
        email="not-an-email",
        culture="english",
        address=Address(first_name="J4ne", last_name="", address_line1="", city="", country="XX"),
    )
    with pytest.raises(errors.InvalidInput) as caught:
        await create_customer(pc, store, ADMIN, bad, request_id=new_request_id())
    assert set(caught.value.fields) == {
        "company_name",
        "domain_prefix",
        "email",
        "culture",
        "address.first_name",
        "address.last_name",
        "address.address_line1",
        "address.city",
        "address.country",
    }
    assert pc.stats.calls == 0
    assert [e.outcome for e in store.audit()] == ["invalid"]


async def test_helpdesk_agent_may_not_create(make_client, store):
    pc = make_client("helpdesk-agent")
    with pytest.raises(errors.AccessRefused):
        await create_customer(pc, store, HELPDESK, new_customer(), request_id=new_request_id())
    assert pc.stats.calls == 0
    assert [e.outcome for e in store.audit()] == ["refused"]


async def test_create_and_attest_in_one_step(make_client, store):
    pc = make_client()
    outcome = await create_customer_with_attestation(
        pc,
        store,
        ADMIN,
        new_customer(),
        (JANE, date(2026, 1, 5)),
        create_request_id=new_request_id(),
        attest_request_id=new_request_id(),
    )
    assert outcome.complete and not outcome.attestation_failed
    assert outcome.attestation is not None and outcome.attestation.outcome == "attested"
    stored = await pc.get_attestations(outcome.customer.id)
    assert [a.primary_contact.email for a in stored] == ["jane@wingtip.example"]
    assert [(e.action, e.outcome) for e in store.audit()][::-1] == [
        ("create_customer", "created"),
        ("attest", "attested"),
    ]
    assert store.audit(action="create_customer")[0].inputs["agreement"] == "attest_now"


async def test_customer_accepts_in_admin_center_creates_without_attesting(make_client, store):
    pc = make_client()
    outcome = await create_customer_with_attestation(
        pc,
        store,
        ADMIN,
        new_customer(),
        None,
        create_request_id=new_request_id(),
        attest_request_id=new_request_id(),
    )
    assert outcome.complete and not outcome.attestation_requested
    assert await pc.get_attestations(outcome.customer.id) == []
    assert store.audit()[0].inputs["agreement"] == "customer_accepts"


async def test_future_attestation_date_in_utc_is_refused_before_creating(make_client, store):
    pc = make_client()
    now = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    with pytest.raises(errors.InvalidInput) as caught:
        await create_customer_with_attestation(
            pc,
            store,
            ADMIN,
            new_customer(),
            (JANE, date(2026, 3, 2)),
            create_request_id=new_request_id(),
            attest_request_id=new_request_id(),
            now=now,
        )
    [problem] = caught.value.problems
    assert problem.field == "attestation.date_agreed"
    assert problem.params["utc_today"] == "2026-03-01"
    assert pc.stats.calls == 0
    assert await pc.find_customers_by_domain("wingtiptoys.onmicrosoft.com") == []


async def test_attestation_failing_after_creation_keeps_the_customer_and_retry_is_safe(
    make_client, emulator, store
):
    failing = FailingAgreements(emulator.transport())
    pc = make_client(transport=failing, retry=RetryPolicy(max_attempts=1))
    create_id, attest_id = new_request_id(), new_request_id()
    first = await create_customer_with_attestation(
        pc,
        store,
        ADMIN,
        new_customer(),
        (JANE, date(2026, 1, 5)),
        create_request_id=create_id,
        attest_request_id=attest_id,
    )
    assert failing.failed == 1
    assert first.attestation_failed and not first.complete
    assert isinstance(first.attestation_error, errors.ServiceUnavailable)
    assert first.credentials is not None  # the customer exists: its admin must be shown
    attest_id = request_id_after(first.attestation_error, attest_id)

    pc_ok = make_client()
    second = await create_customer_with_attestation(
        pc_ok,
        store,
        ADMIN,
        new_customer(),
        (JANE, date(2026, 1, 5)),
        create_request_id=create_id,
        attest_request_id=attest_id,
    )
    assert second.customer.id == first.customer.id  # replayed, not created twice
    assert second.complete and second.attestation is not None
    found = await pc_ok.find_customers_by_domain("wingtiptoys.onmicrosoft.com")
    assert [c.id for c in found] == [first.customer.id]
    assert len(await pc_ok.get_attestations(first.customer.id)) == 1
    outcomes = [(e.action, e.outcome) for e in store.audit()][::-1]
    assert outcomes == [
        ("create_customer", "created"),
        ("attest", "failed"),
        ("create_customer", "created"),
        ("attest", "attested"),
    ]
    password = first.credentials.password.get_secret_value()
    assert password not in all_text(store)


async def test_a_taken_domain_is_a_failure_that_creates_nothing(make_client, store):
    pc = make_client()
    await create_customer(pc, store, ADMIN, new_customer(), request_id=new_request_id())
    with pytest.raises(errors.Conflict):
        await create_customer(pc, store, ADMIN, new_customer(), request_id=new_request_id())
    assert [e.outcome for e in store.audit()] == ["failed", "created"]


async def test_provider_creates_for_its_indirect_reseller(make_client, store):
    pc = make_client("provider-admin")
    created = await create_customer(
        pc,
        store,
        PROVIDER,
        new_customer(associated_partner_id=NORTHWIND_TENANT_ID.upper()),
        request_id=new_request_id(),
    )
    assert created.customer.associated_partner_id == NORTHWIND_TENANT_ID


def test_only_a_provider_names_an_indirect_reseller():
    with pytest.raises(errors.InvalidInput) as caught:
        check_new_customer(new_customer(associated_partner_id=NORTHWIND_TENANT_ID), ADMIN)
    assert caught.value.problems[0].code == "not_provider"
    with pytest.raises(errors.InvalidInput) as caught:
        check_new_customer(new_customer(associated_partner_id="northwind"), PROVIDER)
    assert caught.value.problems[0].code == "bad_partner_id"


def test_cultures_and_their_languages():
    assert check_culture("zh_cn") == "zh-CN"
    assert culture_language("zh-CN") == "zh-hans"
    assert culture_language("sv-SE") == "sv"
    assert check_new_customer(new_customer(culture="zh-CN")).language == "zh-hans"


def test_request_id_is_kept_only_when_no_answer_came():
    rid = new_request_id()
    assert request_id_after(errors.RequestTimeout(), rid) == rid
    assert request_id_after(errors.ServiceUnavailable(status=503), rid) != rid


def test_new_customer_phone_is_read_in_the_customers_country():
    clean = check_new_customer(
        new_customer(
            address=Address(
                first_name="Li",
                last_name="Wei",
                address_line1="1 Chang'an Avenue",
                city="Beijing",
                country="CN",
                phone_number="010 1234 5678",
            )
        )
    )
    assert clean.address.phone_number.startswith("+86")
