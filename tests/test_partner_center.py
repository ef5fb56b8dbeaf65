"""The Partner Center client against the emulator in-process, and against scripted transports
for the retry rules (429 + Retry-After, timeouts with the same MS-RequestId, resets, 5xx)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import httpx
import pytest

from mca_core.domain import errors
from mca_core.domain.models import MCA_AGREEMENT_TYPE, Contact, NewCustomer, TokenKind
from mca_core.emulator import MCA_TEMPLATE_ID, SANDBOX_USERS, Emulator
from mca_core.partner_center.retry import RetryPolicy

from .conftest import Sleeper

JANE = Contact(
    first_name="Jane", last_name="Doe", email="jane@contoso.com", phone_number="+1 425-555-0100"
)


def scripted(*answers):
    """A transport answering in turn; an answer may be a Response, an exception, or 'hang'."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if queue else httpx.Response(200, json={})
        if answer == "hang":
            await asyncio.sleep(30)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), seen


async def first_customer_where(pc, predicate):
    for customer in await pc.list_customers():
        attestations = await pc.get_attestations(customer.id)
        signed = await pc.get_direct_signing_status(customer.id)
        if predicate(attestations, signed):
            return customer
    pytest.fail("no seeded customer matches")


# --- reading ------------------------------------------------------------------------------


async def test_template_is_fetched_with_agreement_type_and_cached(make_client):
    pc = make_client()
    template = await pc.get_mca_template()
    assert template.template_id == MCA_TEMPLATE_ID
    assert template.agreement_type == MCA_AGREEMENT_TYPE
    calls = pc.stats.calls
    assert (await pc.get_mca_template()) == template
    assert pc.stats.calls == calls  # cached: no second request


async def test_paging_follows_v1_next_links_with_continuation(tmp_path, make_client):
    big = Emulator(tmp_path / "big", customers=1200, seed=3)
    pc = make_client(emu=big)
    customers = await pc.list_customers()
    assert len(customers) == 1200
    assert len({c.id for c in customers}) == 1200
    assert pc.stats.calls == 3  # 500 + 500 + 200


async def test_next_link_is_not_prefixed_twice_and_headers_are_sent(make_client):
    page1 = {
        "totalCount": 1,
        "items": [{"id": "a", "companyProfile": {"domain": "a.com"}}],
        "links": {
            "next": {
                "uri": "/v1/customers?size=500&seekOperation=Next",
                "method": "GET",
                "headers": [{"key": "MS-ContinuationToken", "value": "tok"}],
            }
        },
    }
    page2 = {
        "totalCount": 1,
        "items": [{"id": "b", "companyProfile": {"domain": "b.com"}}],
        "links": {},
    }
    transport, seen = scripted(httpx.Response(200, json=page1), httpx.Response(200, json=page2))
    pc = make_client(transport=transport)
    assert [c.id for c in await pc.list_customers()] == ["a", "b"]
    assert seen[1].url.path == "/v1/customers"
    assert seen[1].url.params["seekOperation"] == "Next"
    assert seen[1].headers["MS-ContinuationToken"] == "tok"
    assert "filter" not in seen[1].url.params


async def test_domain_filter(make_client):
    pc = make_client()
    some = (await pc.list_customers())[5]
    found = await pc.find_customers_by_domain(some.domain.upper())
    assert [c.id for c in found] == [some.id]


async def test_attestations_are_mca_only_and_newest_first(make_client):
    pc = make_client()
    for customer in await pc.list_customers():
        items = await pc.get_attestations(customer.id)
        assert all(a.type == MCA_AGREEMENT_TYPE for a in items)
        dates = [a.date_agreed for a in items]
        assert dates == sorted(dates, reverse=True)
        assert all(d.tzinfo is not None for d in dates)


async def test_every_call_carries_the_contract_headers(make_client):
    transport, seen = scripted(
        httpx.Response(200, json={"isSigned": True}), httpx.Response(200, json={"isSigned": False})
    )
    pc = make_client(transport=transport)
    assert await pc.get_direct_signing_status("c1") is True
    assert await pc.get_direct_signing_status("c1") is False
    for request in seen:
        assert request.headers["Authorization"].startswith("Bearer ")
        assert request.headers["Accept"] == "application/json"
        assert request.headers["X-Locale"] == "en-US"
    assert seen[0].headers["MS-CorrelationId"] != seen[1].headers["MS-CorrelationId"]
    assert seen[0].headers["MS-RequestId"] != seen[1].headers["MS-RequestId"]


# --- attesting --------------------------------------------------------------------------


async def test_attest_then_identical_is_already_attested_and_not_retried(make_client):
    pc = make_client()
    customer = await first_customer_where(pc, lambda a, s: not a and not s)
    result = await pc.attest(customer.id, JANE, date(2026, 1, 15))
    assert result.outcome == "attested" and result.request_id
    assert result.attestation.template_id == MCA_TEMPLATE_ID
    assert result.attestation.primary_contact.email == "jane@contoso.com"
    calls = pc.stats.calls
    with pytest.raises(errors.AlreadyAttested) as err:
        await pc.attest(customer.id, JANE, date(2026, 1, 15))
    assert pc.stats.calls == calls + 1  # one attempt: business errors are never retried
    assert err.value.code == 600061 and err.value.request_id
    # a different phone is a new attestation, and it becomes the newest
    other = JANE.model_copy(update={"phone_number": "+1 425-555-0199"})
    await pc.attest(customer.id, other, date(2026, 2, 1))
    latest = (await pc.get_attestations(customer.id))[0]
    assert latest.primary_contact.phone_number == "+1 425-555-0199"


async def test_future_date_on_the_service_clock(tmp_path, make_client):
    now = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    emu = Emulator(tmp_path / "clock", customers=20, seed=1, clock=lambda: now)
    pc = make_client(emu=emu)
    customer = (await pc.list_customers())[0]
    with pytest.raises(errors.FutureAgreementDate) as err:
        await pc.attest(customer.id, JANE, date(2026, 11, 21))
    assert err.value.status == 400 and err.value.code == 600002
    result = await pc.attest(customer.id, JANE, date(2026, 11, 20))
    assert result.outcome == "attested"


async def test_600002_about_something_else_is_a_plain_bad_request(make_client):
    body = {
        "code": 600002,
        "message": "The field 'primaryContact.email' is required.",
        "description": "",
        "errorName": "InvalidInput",
        "isRetryable": False,
    }
    transport, _ = scripted(
        httpx.Response(
            200, json={"items": [{"templateId": "t", "agreementType": MCA_AGREEMENT_TYPE}]}
        ),
        httpx.Response(400, json=body),
    )
    pc = make_client(transport=transport)
    with pytest.raises(errors.BadRequest) as err:
        await pc.attest("c1", JANE, date(2026, 1, 1))
    assert not isinstance(err.value, errors.FutureAgreementDate)
    assert "primaryContact.email" in str(err.value)


@pytest.mark.parametrize(
    ("user", "code"), [("helpdesk-agent", 1002), ("indirect-reseller", 600006)]
)
async def test_refusals_carry_status_code_and_request_ids(make_client, user, code):
    admin = make_client()
    customer = (await admin.list_customers())[0]
    pc = make_client(user)
    if user == "indirect-reseller":
        customer = (await pc.list_customers())[0]
    with pytest.raises(errors.PermissionDenied) as err:
        await pc.attest(customer.id, JANE, date(2026, 1, 1))
    e = err.value
    assert e.status == 403 and e.code == code
    assert e.request_id and e.correlation_id
    assert e.request_id in str(e) and e.correlation_id in str(e)


async def test_token_without_mfa_is_refused_by_the_service(make_client):
    pc = make_client(mfa=False)
    with pytest.raises(errors.MfaRequired) as err:
        await pc.get_mca_template()
    assert err.value.status == 401 and err.value.code == 900421


async def test_app_only_token_cannot_attest_or_read_agreements(make_client):
    pc = make_client(kind=TokenKind.APP_ONLY)
    customers = await pc.list_customers()  # allowed App-only
    assert customers
    with pytest.raises(errors.PermissionDenied):
        await pc.get_attestations(customers[0].id)


# --- retries ----------------------------------------------------------------------------


async def test_429_then_success_honours_retry_after_with_a_new_request_id(make_client):
    sleeper = Sleeper()
    transport, seen = scripted(
        httpx.Response(
            429,
            headers={"Retry-After": "7"},
            json={"statusCode": 429, "message": "Rate limit is exceeded."},
        ),
        httpx.Response(200, json={"isSigned": True}),
    )
    pc = make_client(transport=transport, sleep=sleeper)
    assert await pc.get_direct_signing_status("c1") is True
    assert len(seen) == 2
    assert 7.0 <= sleeper.waits[0] <= 7.7
    assert seen[0].headers["MS-RequestId"] != seen[1].headers["MS-RequestId"]
    assert pc.stats.throttled == 1 and pc.limiter.throttle_events == 1


async def test_timeout_is_retried_with_the_same_request_id(make_client):
    sleeper = Sleeper()
    transport, seen = scripted("hang", httpx.Response(200, json={"isSigned": False}))
    pc = make_client(transport=transport, timeout=0.05, sleep=sleeper)
    assert await pc.get_direct_signing_status("c1") is False
    assert len(seen) == 2
    assert seen[0].headers["MS-RequestId"] == seen[1].headers["MS-RequestId"]
    assert seen[0].headers["MS-CorrelationId"] != seen[1].headers["MS-CorrelationId"]


async def test_connection_reset_is_retried_with_the_same_request_id(make_client):
    transport, seen = scripted(
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.Response(200, json={"isSigned": True}),
    )
    pc = make_client(transport=transport, sleep=Sleeper())
    assert await pc.get_direct_signing_status("c1") is True
    assert seen[0].headers["MS-RequestId"] == seen[1].headers["MS-RequestId"]


async def test_5xx_is_retried_then_gives_up_with_the_ids(make_client):
    sleeper = Sleeper()
    answers = [
        httpx.Response(
            503,
            headers={"MS-RequestId": f"r{i}", "MS-CorrelationId": "c"},
            json={"code": 500, "message": "busy"},
        )
        for i in range(4)
    ]
    transport, seen = scripted(*answers)
    pc = make_client(transport=transport, sleep=sleeper, retry=RetryPolicy(max_attempts=4))
    with pytest.raises(errors.ServiceUnavailable) as err:
        await pc.get_direct_signing_status("c1")
    assert len(seen) == 4 and len(sleeper.waits) == 3
    assert err.value.request_id == "r3" and err.value.status == 503
    assert len({r.headers["MS-RequestId"] for r in seen}) == 4


async def test_emulator_timeout_after_apply_does_not_attest_twice(tmp_path, make_client):
    emu = Emulator(tmp_path / "t", customers=20, seed=2)
    pc = make_client(emu=emu, timeout=0.2, sleep=Sleeper())
    customers = await pc.list_customers()
    template = await pc.get_mca_template()
    assert template.template_id == MCA_TEMPLATE_ID
    target = None
    for c in customers:
        if not await pc.get_attestations(c.id):
            target = c
            break
    assert target is not None
    emu.faults = type(emu.faults)(fault_timeout=1.0, timeout_hang_seconds=1.0, fault_seed=5)
    task = pc.attest(target.id, JANE, date(2026, 3, 1))
    emu_off = asyncio.get_running_loop().call_later(
        0.25, lambda: setattr(emu, "faults", type(emu.faults)())
    )
    try:
        result = await task
    except errors.AlreadyAttested:
        result = None
    finally:
        emu_off.cancel()
    emu.faults = type(emu.faults)()
    items = await pc.get_attestations(target.id)
    assert len(items) == 1  # exactly one attestation, whatever the timeouts did
    assert result is None or result.outcome == "attested"


# --- customers and links ------------------------------------------------------------------


async def test_create_customer_is_idempotent_on_request_id(make_client):
    from mca_core.domain.models import Address

    pc = make_client()
    new = NewCustomer(
        company_name="Adatum Test Ltd",
        domain_prefix="adatumtest2026",
        email="jane@adatum.com",
        address=Address(
            first_name="Jane",
            last_name="Doe",
            address_line1="1 Main St",
            city="Seattle",
            state="WA",
            postal_code="98101",
            country="US",
        ),
    )
    first = await pc.create_customer(new, request_id="11111111-2222-4333-8444-555555555555")
    again = await pc.create_customer(new, request_id="11111111-2222-4333-8444-555555555555")
    assert first.customer.id == again.customer.id
    assert first.customer.domain == "adatumtest2026.onmicrosoft.com"
    assert first.credentials is not None
    assert first.credentials.user_name.endswith("@adatumtest2026.onmicrosoft.com")
    assert len(first.credentials.password.get_secret_value()) >= 8
    assert first.credentials.password.get_secret_value() not in repr(first)
    found = await pc.find_customers_by_domain("adatumtest2026.onmicrosoft.com")
    assert len(found) == 1


async def test_relationship_links(make_client):
    direct = make_client("admin-agent")
    url = await direct.get_relationship_request_link()
    assert "invType=ResellerRelationship" in url
    assert SANDBOX_USERS["admin-agent"].partner_tenant_id in url
    provider = make_client("provider-admin")
    reseller_id = SANDBOX_USERS["indirect-reseller"].partner_tenant_id
    url = await provider.get_relationship_request_link(indirect_reseller_id=reseller_id)
    assert "IndirectResellerRelationship" in url and reseller_id in url
    reseller = make_client("indirect-reseller")
    provider_id = SANDBOX_USERS["provider-admin"].partner_tenant_id
    url = await reseller.get_relationship_request_link(indirect_provider_id=provider_id)
    assert provider_id in url and reseller_id in url


def test_error_str_names_everything():
    e = errors.AlreadyAttested(
        status=409,
        code=600061,
        request_id="rid",
        correlation_id="cid",
        method="POST",
        path="/v1/customers/x/agreements",
    )
    text = str(e)
    for part in ("Already attested", "HTTP 409", "600061", "rid", "cid", "POST"):
        assert part in text
    assert json.dumps(text)  # printable
