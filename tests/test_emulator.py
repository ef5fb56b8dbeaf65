"""The emulator against the contract (shared/partner-center-api.md): raw HTTP, no client code.

In process through `Emulator.transport()`, except one test over real loopback HTTP. Small
portfolios keep the file fast; one paging test uses 1,200 customers a partner.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest

from mca_core.domain.models import PartnerType, Role, TokenKind
from mca_core.emulator import (
    CLOUD_AGREEMENT_TEMPLATE_ID,
    MCA_TEMPLATE_ID,
    OLD_MCA_TEMPLATE_ID,
    PARTNERS,
    SANDBOX_USERS,
    Emulator,
    FaultConfig,
    run_in_thread,
)
from mca_core.emulator.directory import (
    CONTOSO_TENANT_ID,
    FABRIKAM_TENANT_ID,
    NORTHWIND_TENANT_ID,
    TAILSPIN_TENANT_ID,
)
from mca_core.emulator.seed import build_portfolio

BASE = "https://api.partnercenter.test"
MCA = "MicrosoftCustomerAgreement"
CLOUD = "MicrosoftCloudAgreement"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- fixtures and helpers ------------------------------------------------------------------
class Clock:
    """A settable UTC clock for the emulator."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def open_emulator(path: Path, customers: int = 60, seed: int = 7, **kw: Any) -> Emulator:
    return Emulator(path, customers=customers, seed=seed, **kw)


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    em = open_emulator(tmp_path / "pc")
    yield em
    em.close()


@pytest.fixture
async def http(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=emu.transport(), base_url=BASE) as client:
        yield client


def auth(
    em: Emulator,
    user: str = "admin-agent",
    *,
    mfa: bool = True,
    kind: TokenKind = TokenKind.APP_USER,
) -> dict[str, str]:
    return {"Authorization": f"Bearer {em.issue_token(user, mfa=mfa, kind=kind)}"}


def contact(**over: Any) -> dict[str, Any]:
    return {
        "firstName": "Jane",
        "lastName": "Doe",
        "email": "jane.doe@adatum.example.com",
        "phoneNumber": "+1 425 555 0100",
    } | over


def attestation(date_agreed: str = "2026-03-01T00:00:00.000Z", **over: Any) -> dict[str, Any]:
    return {
        "primaryContact": contact(),
        "templateId": MCA_TEMPLATE_ID,
        "dateAgreed": date_agreed,
        "type": MCA,
    } | over


def new_customer(prefix: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enableGDAPByDefault": False,
        "companyProfile": {"domain": f"{prefix}.onmicrosoft.com"},
        "billingProfile": {
            "email": "jane@adatum.example.com",
            "culture": "en-US",
            "language": "en",
            "companyName": "Adatum Test Ltd",
            "defaultAddress": {
                "firstName": "Jane",
                "lastName": "Doe",
                "addressLine1": "1 Main St",
                "city": "Seattle",
                "state": "WA",
                "postalCode": "98101",
                "country": "US",
                "phoneNumber": "",
            },
        },
    }
    return body | over


async def all_customers(
    client: httpx.AsyncClient, headers: dict[str, str], query: str = "size=500"
) -> list[dict[str, Any]]:
    """Follow links.next exactly as the contract says (the uri already starts with /v1)."""
    r = await client.get(f"/v1/customers?{query}", headers=headers)
    assert r.status_code == 200, r.text
    items = list(r.json()["items"])
    while "next" in r.json()["links"]:
        nxt = r.json()["links"]["next"]
        extra = {h["key"]: h["value"] for h in nxt["headers"]}
        r = await client.get(nxt["uri"], headers=headers | extra)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
    return items


async def fresh_customer(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A customer of the caller without any MCA attestation."""
    for item in await all_customers(client, headers):
        r = await client.get(
            f"/v1/customers/{item['id']}/agreements?agreementType={MCA}", headers=headers
        )
        if r.json()["totalCount"] == 0:
            return str(item["id"])
    raise AssertionError("no unattested customer")


def assert_error(r: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    for key in ("message", "description", "errorName", "isRetryable", "parameters"):
        assert key in body
    assert body["errorMessageExtended"] == f"InternalErrorCode={code}"
    return body


# --- seed ----------------------------------------------------------------------------------
def test_seed_is_deterministic_and_ids_do_not_depend_on_it() -> None:
    a, b = build_portfolio(40, 5), build_portfolio(40, 5)
    assert a == b
    other = build_portfolio(40, 6)
    assert [c.id for c in other.customers] != [c.id for c in a.customers]
    # Partners, users and groups are uuid5 of fixed names, not of the seed.
    assert SANDBOX_USERS["admin-agent"].partner_tenant_id == CONTOSO_TENANT_ID
    assert str(uuid.UUID(CONTOSO_TENANT_ID)) == CONTOSO_TENANT_ID
    assert uuid.UUID(CONTOSO_TENANT_ID).version == 5


def test_seed_mix_is_realistic() -> None:
    portfolio = build_portfolio(600, 42)
    customers = portfolio.customers
    total = len(customers)
    assert total == 1200
    mca = [a for a in portfolio.agreements if a.type == MCA]
    attested_ids = {a.customer_id for a in mca}
    per_customer: dict[str, int] = {}
    for a in mca:
        per_customer[a.customer_id] = per_customer.get(a.customer_id, 0) + 1
    direct = {c.id for c in customers if c.direct_signed}
    attested = len(attested_ids) / total
    direct_only = len(direct - attested_ids) / total
    neither = 1 - len(direct | attested_ids) / total
    assert 0.40 <= attested <= 0.50
    assert 0.20 <= direct_only <= 0.30
    assert 0.25 <= neither <= 0.35
    multi = sum(1 for n in per_customer.values() if n > 1) / len(attested_ids)
    assert 0.10 <= multi <= 0.20
    assert max(per_customer.values()) == 3
    assert direct & attested_ids  # a few accepted both ways
    cloud = {a.customer_id for a in portfolio.agreements if a.type == CLOUD}
    assert 0.03 <= len(cloud) / total <= 0.07

    fabrikam = [c for c in customers if c.partner_tenant_id == FABRIKAM_TENANT_ID]
    assoc = [c for c in fabrikam if c.associated_partner_id]
    assert 0.34 <= len(assoc) / len(fabrikam) <= 0.46
    northwind = sum(1 for c in assoc if c.associated_partner_id == NORTHWIND_TENANT_ID)
    assert 0.40 <= northwind / len(assoc) <= 0.60
    assert not any(c.associated_partner_id for c in customers if c not in fabrikam)

    chinese = [c for c in customers if c.country == "CN"]
    assert 0.11 <= len(chinese) / total <= 0.19
    assert all(CJK.search(c.company_name) for c in chinese)
    assert len({c.country for c in customers}) >= 10
    domains = [c.domain for c in customers]
    assert len(set(domains)) == total
    assert all(re.fullmatch(r"[a-z0-9]{1,27}\.onmicrosoft\.com", d) for d in domains)
    # Contacts: realistic, ascii emails, dates within the MCA era, several wire formats.
    assert all(a.contact.email.isascii() and "@" in a.contact.email for a in mca)
    assert all(a.user_id for a in mca)
    assert all("2019-08" <= a.date_agreed[:7] <= "2026-10" for a in mca)
    assert any(a.date_agreed.endswith("Z") for a in mca)
    assert any(not a.date_agreed.endswith("Z") for a in mca)
    assert any(len(a.date_agreed) > 25 for a in mca)  # 7 fractional digits, .NET style


def test_seeding_the_default_portfolio_is_fast(tmp_path: Path) -> None:
    # CPU time of this process: other work on a busy CI machine does not count against it.
    started = time.process_time()
    em = Emulator(tmp_path / "big")  # 2 x 1,500 customers
    elapsed = time.process_time() - started
    em.close()
    assert elapsed < 2.0, f"seeding took {elapsed:.2f} s"


# --- tokens and identities -------------------------------------------------------------------
def test_sandbox_users_and_identities() -> None:
    assert set(SANDBOX_USERS) == {
        "admin-agent",
        "sales-agent",
        "helpdesk-agent",
        "provider-admin",
        "indirect-reseller",
        "manager",
    }
    reseller = SANDBOX_USERS["indirect-reseller"].identity()
    assert reseller.partner_type is PartnerType.INDIRECT_RESELLER
    assert reseller.partner_tenant_id == NORTHWIND_TENANT_ID
    assert reseller.provider_tenant_id == FABRIKAM_TENANT_ID
    assert reseller.provider_name == "Fabrikam Distribution"
    assert SANDBOX_USERS["helpdesk-agent"].identity().role is Role.HELPDESK_AGENT
    assert SANDBOX_USERS["provider-admin"].partner_type is PartnerType.INDIRECT_PROVIDER
    assert PARTNERS[TAILSPIN_TENANT_ID].provider_tenant_id == FABRIKAM_TENANT_ID
    for user in SANDBOX_USERS.values():
        assert user.email.endswith("@" + PARTNERS[user.partner_tenant_id].domain)
        assert len(user.groups) == 1


def test_token_claims(emu: Emulator) -> None:
    user = SANDBOX_USERS["sales-agent"]
    claims = jwt.decode(emu.issue_token("sales-agent"), options={"verify_signature": False})
    assert claims["aud"] == "https://api.partnercenter.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{user.partner_tenant_id}/"
    assert claims["tid"] == user.partner_tenant_id
    assert claims["oid"] == user.user_id
    assert claims["upn"] == user.email
    assert claims["name"] == user.display_name
    assert claims["amr"] == ["pwd", "mfa"]
    assert claims["groups"] == list(user.groups)
    assert claims["scp"] == "user_impersonation"
    assert claims["idtyp"] == "user"
    assert claims["exp"] - claims["iat"] == 3600
    no_mfa = jwt.decode(
        emu.issue_token("sales-agent", mfa=False), options={"verify_signature": False}
    )
    assert no_mfa["amr"] == ["pwd"]
    app = jwt.decode(
        emu.issue_token("sales-agent", kind=TokenKind.APP_ONLY), options={"verify_signature": False}
    )
    assert app["idtyp"] == "app" and app["tid"] == user.partner_tenant_id
    assert app["appid"] and app["roles"]
    assert not {"oid", "upn", "amr", "scp"} & set(app)
    with pytest.raises(KeyError, match="admin-agent"):
        emu.issue_token("nobody")


async def test_sandbox_token_endpoint(emu: Emulator, http: httpx.AsyncClient) -> None:
    r = await http.post("/sandbox/token", json={"user": "provider-admin", "mfa": True})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await http.get("/v1/customers?size=1", headers=headers)).status_code == 200
    r = await http.post("/sandbox/token", json={"user": "nobody"})
    assert r.status_code == 400
    assert all(key in r.json()["message"] for key in SANDBOX_USERS)
    r = await http.post("/sandbox/token", json={"user": "admin-agent", "kind": "app_only"})
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["idtyp"] == "app"


async def test_bad_missing_and_expired_tokens(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    em = open_emulator(tmp_path / "pc", customers=5, clock=clock)
    async with httpx.AsyncClient(transport=em.transport(), base_url=BASE) as http:
        assert_error(await http.get("/v1/customers"), 401, 1002)
        bad = {"Authorization": "Bearer not-a-token"}
        assert_error(await http.get("/v1/customers", headers=bad), 401, 1002)
        forged = jwt.encode({"tid": CONTOSO_TENANT_ID}, "x" * 32, algorithm="HS256")
        r = await http.get("/v1/customers", headers={"Authorization": f"Bearer {forged}"})
        assert_error(r, 401, 1002)
        headers = auth(em)
        assert (await http.get("/v1/customers", headers=headers)).status_code == 200
        clock.now += timedelta(hours=2)
        assert_error(await http.get("/v1/customers", headers=headers), 401, 1002)
    em.close()


async def test_mfa_is_required_on_every_app_user_call(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    headers = auth(emu, mfa=False)
    customer = (await all_customers(http, auth(emu)))[0]["id"]
    for method, path in [
        ("GET", "/v1/customers"),
        ("GET", f"/v1/customers/{customer}"),
        ("GET", f"/v1/agreements?agreementType={MCA}"),
        ("GET", f"/v1/customers/{customer}/agreements"),
    ]:
        assert_error(await http.request(method, path, headers=headers), 401, 900421)
    r = await http.post(f"/v1/customers/{customer}/agreements", headers=headers, json=attestation())
    assert_error(r, 401, 900421)


# --- token kinds and roles -------------------------------------------------------------------
async def test_token_kinds_follow_the_contract_table(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    app_only = auth(emu, kind=TokenKind.APP_ONLY)
    app_user = auth(emu)
    customer = (await all_customers(http, app_user))[0]["id"]
    app_user_only = [
        ("GET", f"/v1/agreements?agreementType={MCA}", None),
        ("POST", f"/v1/customers/{customer}/agreements", attestation()),
        ("GET", f"/v1/customers/{customer}/agreements?agreementType={MCA}", None),
        ("GET", f"/v1/customers/{customer}/directSignedMicrosoftCustomerAgreementStatus", None),
        ("GET", "/v1/customers/relationshiprequests", None),
    ]
    for method, path, body in app_user_only:
        assert_error(await http.request(method, path, headers=app_only, json=body), 403, 1002)
        r = await http.request(method, path, headers=app_user, json=body)
        assert r.status_code in (200, 201), r.text
    assert (await http.get("/v1/customers", headers=app_only)).status_code == 200
    assert (await http.get(f"/v1/customers/{customer}", headers=app_only)).status_code == 200
    r = await http.post("/v1/customers", headers=app_only, json=new_customer("apponly1"))
    assert r.status_code == 201, r.text
    body = new_customer("apponly2", associatedPartnerId=NORTHWIND_TENANT_ID)
    r = await http.post(
        "/v1/customers", headers=auth(emu, "provider-admin", kind=TokenKind.APP_ONLY), json=body
    )
    assert_error(r, 403, 1002)


async def test_roles_and_partner_types_that_may_not_attest(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    customer = await fresh_customer(http, auth(emu))
    path = f"/v1/customers/{customer}/agreements"
    assert_error(
        await http.post(path, headers=auth(emu, "helpdesk-agent"), json=attestation()), 403, 1002
    )
    reseller = auth(emu, "indirect-reseller")
    own = (await all_customers(http, reseller))[0]["id"]
    r = await http.post(f"/v1/customers/{own}/agreements", headers=reseller, json=attestation())
    body = assert_error(r, 403, 600006)
    assert "Indirect resellers cannot attest" in body["message"]
    assert "indirect provider" in body["message"]
    r = await http.post(path, headers=auth(emu, "sales-agent"), json=attestation())
    assert r.status_code == 201
    assert r.json()["userId"] == SANDBOX_USERS["sales-agent"].user_id
    r = await http.post(
        "/v1/customers", headers=auth(emu, "helpdesk-agent"), json=new_customer("hd1")
    )
    assert_error(r, 403, 1002)
    # Reading is fine for the helpdesk.
    assert (await http.get(path, headers=auth(emu, "helpdesk-agent"))).status_code == 200


# --- customers: visibility, paging, filter ----------------------------------------------------
async def test_paging_follows_next_links_with_continuation_header(tmp_path: Path) -> None:
    em = open_emulator(tmp_path / "big", customers=1200, seed=3)
    headers = auth(em)
    async with httpx.AsyncClient(transport=em.transport(), base_url=BASE) as http:
        r = await http.get("/v1/customers?size=1000", headers=headers)
        first = r.json()
        assert first["totalCount"] == len(first["items"]) == 500  # clipped; count of the page
        assert first["links"]["self"]["uri"].startswith("/v1/customers")
        nxt = first["links"]["next"]
        assert nxt["uri"].startswith("/v1/") and not nxt["uri"].startswith("/v1/v1")
        assert nxt["uri"] == "/v1/customers?size=500&seekOperation=Next"
        assert nxt["method"] == "GET"
        assert [h["key"] for h in nxt["headers"]] == ["MS-ContinuationToken"]
        # Without the header, or with a tampered one: 400.
        assert_error(await http.get(nxt["uri"], headers=headers), 400, 400056)
        tampered = {"MS-ContinuationToken": nxt["headers"][0]["value"][:-3] + "AAA"}
        assert_error(await http.get(nxt["uri"], headers=headers | tampered), 400, 400056)
        # Another partner may not use it.
        other = auth(em, "provider-admin") | {"MS-ContinuationToken": nxt["headers"][0]["value"]}
        assert_error(await http.get(nxt["uri"], headers=other), 400, 400056)

        started = time.process_time()
        items = await all_customers(http, headers)
        elapsed = time.process_time() - started
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids)) == 1200
        assert all(i["companyProfile"]["tenantId"] == i["id"] for i in items)
        assert all(i["relationshipToPartner"] == "reseller" for i in items)
        assert all(len(i["billingProfile"]["defaultAddress"]["country"]) == 2 for i in items)
        assert elapsed < 1.0  # three pages
        assert ids == [i["id"] for i in await all_customers(http, headers)]  # stable order
    em.close()


async def test_visibility_per_partner_and_reseller(emu: Emulator, http: httpx.AsyncClient) -> None:
    contoso = await all_customers(http, auth(emu))
    fabrikam = await all_customers(http, auth(emu, "provider-admin"))
    northwind = await all_customers(http, auth(emu, "indirect-reseller"))
    assert len(contoso) == len(fabrikam) == 60
    assert not {c["id"] for c in contoso} & {c["id"] for c in fabrikam}
    associated = [c for c in fabrikam if c.get("associatedPartnerId") == NORTHWIND_TENANT_ID]
    assert {c["id"] for c in northwind} == {c["id"] for c in associated}
    assert northwind and all(c["associatedPartnerId"] == NORTHWIND_TENANT_ID for c in northwind)
    stranger = next(c for c in fabrikam if c.get("associatedPartnerId") != NORTHWIND_TENANT_ID)
    r = await http.get(f"/v1/customers/{stranger['id']}", headers=auth(emu, "indirect-reseller"))
    assert_error(r, 404, 1000)
    assert_error(await http.get(f"/v1/customers/{stranger['id']}", headers=auth(emu)), 404, 1000)
    r = await http.get(f"/v1/customers/{contoso[0]['id']}", headers=auth(emu))
    assert r.status_code == 200 and r.json()["billingProfile"]["defaultAddress"]["country"]


async def test_filter(emu: Emulator, http: httpx.AsyncClient) -> None:
    provider = auth(emu, "provider-admin")
    everyone = await all_customers(http, provider)
    sample = everyone[10]["companyProfile"]

    def query(field: str, value: str, size: int = 500) -> str:
        filt = json.dumps({"Field": field, "Value": value, "Operator": "starts_with"})
        return f"size={size}&filter={quote(filt)}"

    prefix = sample["companyName"][:3].upper()
    found = await all_customers(http, provider, query("CompanyName", prefix))
    expected = {
        c["id"]
        for c in everyone
        if c["companyProfile"]["companyName"].casefold().startswith(prefix.casefold())
    }
    assert {c["id"] for c in found} == expected and sample["tenantId"] in expected
    found = await all_customers(http, provider, query("Domain", sample["domain"]))
    assert [c["id"] for c in found] == [sample["tenantId"]]
    # The filter survives paging (it travels in the continuation token).
    found = await all_customers(http, provider, query("IndirectReseller", NORTHWIND_TENANT_ID, 3))
    expected = {c["id"] for c in everyone if c.get("associatedPartnerId") == NORTHWIND_TENANT_ID}
    assert {c["id"] for c in found} == expected and len(expected) > 3
    reseller = auth(emu, "indirect-reseller")
    found = await all_customers(
        http, reseller, query("IndirectCloudSolutionProvider", FABRIKAM_TENANT_ID)
    )
    assert {c["id"] for c in found} == expected
    for bad in [
        "not json",
        json.dumps({"Field": "Country", "Value": "x", "Operator": "starts_with"}),
        json.dumps({"Field": "Domain", "Value": "x", "Operator": "equals"}),
        json.dumps({"Field": "Domain", "Value": "", "Operator": "starts_with"}),
        json.dumps(["Domain"]),
    ]:
        r = await http.get(f"/v1/customers?filter={quote(bad)}", headers=provider)
        assert_error(r, 400, 400056)


async def test_chinese_companies_have_ascii_domains(tmp_path: Path) -> None:
    em = open_emulator(tmp_path / "cn", customers=120, seed=11)
    async with httpx.AsyncClient(transport=em.transport(), base_url=BASE) as http:
        items = await all_customers(http, auth(em))
    em.close()
    chinese = [i for i in items if i["billingProfile"]["defaultAddress"]["country"] == "CN"]
    assert chinese
    for item in chinese:
        assert CJK.search(item["companyProfile"]["companyName"])
        assert item["companyProfile"]["companyName"].endswith("有限公司")
        assert re.fullmatch(r"[a-z0-9]+\.onmicrosoft\.com", item["companyProfile"]["domain"])


# --- agreements -------------------------------------------------------------------------------
async def test_agreement_metadata_trap(emu: Emulator, http: httpx.AsyncClient) -> None:
    headers = auth(emu)
    r = await http.get(f"/v1/agreements?agreementType={MCA}", headers=headers)
    body = r.json()
    assert body["totalCount"] == 1 and body["attributes"]["objectType"] == "Collection"
    item = body["items"][0]
    assert item["templateId"] == MCA_TEMPLATE_ID == "117a77b0-9360-443b-8795-c6dedc750cf9"
    assert item["agreementType"] == MCA
    assert item["agreementLink"] == "https://aka.ms/customeragreement"
    assert item["versionRank"] == 0
    # Forgetting agreementType answers the Cloud Agreement.
    legacy = (await http.get("/v1/agreements", headers=headers)).json()["items"]
    assert [i["agreementType"] for i in legacy] == [CLOUD]
    assert legacy[0]["templateId"] == CLOUD_AGREEMENT_TEMPLATE_ID != MCA_TEMPLATE_ID
    r = await http.get("/v1/agreements?agreementType=Nonsense", headers=headers)
    assert r.json() == {"totalCount": 0, "items": [], "attributes": {"objectType": "Collection"}}


async def test_customer_agreements_trap_and_order(tmp_path: Path) -> None:
    em = open_emulator(tmp_path / "pc", customers=120, seed=7)
    headers = auth(em)
    async with httpx.AsyncClient(transport=em.transport(), base_url=BASE) as http:
        with_cloud = multi = None
        formats: set[bool] = set()
        for item in await all_customers(http, headers):
            path = f"/v1/customers/{item['id']}/agreements"
            every = (await http.get(path, headers=headers)).json()["items"]
            types = [a["type"] for a in every]
            formats |= {a["dateAgreed"].endswith("Z") for a in every}
            if CLOUD in types and MCA in types and with_cloud is None:
                with_cloud = path
            if types.count(MCA) > 1 and multi is None:
                multi = every
        assert with_cloud and multi and formats == {True, False}
        mca_only = (await http.get(f"{with_cloud}?agreementType={MCA}", headers=headers)).json()
        assert mca_only["items"] and {a["type"] for a in mca_only["items"]} == {MCA}
        assert mca_only["totalCount"] == len(mca_only["items"])
        item = mca_only["items"][0]
        assert set(item) >= {"primaryContact", "templateId", "dateAgreed", "type", "userId"}
        assert set(item["primaryContact"]) >= {"firstName", "lastName", "email"}
        from mca_core.domain.models import parse_wire_datetime

        dates = [parse_wire_datetime(a["dateAgreed"]) for a in multi]
        assert dates == sorted(dates)  # oldest first: clients must sort
    em.close()


async def test_attest_then_duplicate_then_new_phone(emu: Emulator, http: httpx.AsyncClient) -> None:
    headers = auth(emu)
    customer = await fresh_customer(http, headers)
    path = f"/v1/customers/{customer}/agreements"
    started = time.process_time()
    r = await http.post(path, headers=headers, json=attestation())
    elapsed = time.process_time() - started
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["userId"] == SANDBOX_USERS["admin-agent"].user_id
    assert stored["templateId"] == MCA_TEMPLATE_ID and stored["type"] == MCA
    assert stored["primaryContact"] == contact()
    assert stored["agreementLink"] == "https://aka.ms/customeragreement"
    assert stored["dateAgreed"].startswith("2026-03-01T00:00:00")
    assert elapsed < 0.05
    r = await http.post(path, headers=headers, json=attestation())
    body = assert_error(r, 409, 600061)
    assert body["errorName"] == "PartnerConfirmedAgreementAlreadyExists"
    assert body["isRetryable"] is False
    again = attestation(primaryContact=contact(phoneNumber="+1 425 555 0199"))
    assert (await http.post(path, headers=headers, json=again)).status_code == 201
    listed = (await http.get(f"{path}?agreementType={MCA}", headers=headers)).json()
    assert listed["totalCount"] == 2


async def test_future_date_is_judged_in_utc(tmp_path: Path) -> None:
    # 23:30 UTC on 19 Nov is already 20 Nov east of UTC: that local "today" is a future date.
    clock = Clock(datetime(2026, 11, 19, 23, 30, tzinfo=UTC))
    em = open_emulator(tmp_path / "pc", customers=10, clock=clock)
    headers = auth(em)
    async with httpx.AsyncClient(transport=em.transport(), base_url=BASE) as http:
        customer = await fresh_customer(http, headers)
        path = f"/v1/customers/{customer}/agreements"
        r = await http.post(path, headers=headers, json=attestation("2026-11-20T00:00:00.000Z"))
        body = assert_error(r, 400, 600002)
        assert body["message"] == "Agreement date cannot be later than the current date."
        assert "UTC" in body["description"]
        r = await http.post(path, headers=headers, json=attestation("2026-11-19T00:00:00.000Z"))
        assert r.status_code == 201
        clock.now = datetime(2026, 11, 20, 0, 0, 1, tzinfo=UTC)
        other = attestation("2026-11-20T00:00:00.000Z", primaryContact=contact(firstName="Ann"))
        assert (await http.post(path, headers=headers, json=other)).status_code == 201
    em.close()


@pytest.mark.parametrize("field", ["firstName", "lastName", "email"])
async def test_missing_contact_field_is_600002_naming_the_field(
    emu: Emulator, http: httpx.AsyncClient, field: str
) -> None:
    headers = auth(emu)
    customer = (await all_customers(http, headers))[0]["id"]
    person = contact()
    del person[field]
    r = await http.post(
        f"/v1/customers/{customer}/agreements",
        headers=headers,
        json=attestation(primaryContact=person),
    )
    body = assert_error(r, 400, 600002)
    assert f"primaryContact.{field}" in body["message"]
    assert body["parameters"] == {"field": f"primaryContact.{field}"}


async def test_templates_old_unknown_and_cloud_agreement_trap(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    headers = auth(emu)
    customer = await fresh_customer(http, headers)
    path = f"/v1/customers/{customer}/agreements"
    r = await http.post(path, headers=headers, json=attestation(templateId=OLD_MCA_TEMPLATE_ID))
    assert r.status_code == 400 and "no longer supported" in r.json()["message"]
    r = await http.post(path, headers=headers, json=attestation(templateId=str(uuid.uuid4())))
    assert r.status_code == 400
    # The template decides the stored type, whatever `type` says.
    r = await http.post(
        path, headers=headers, json=attestation(templateId=CLOUD_AGREEMENT_TEMPLATE_ID, type=MCA)
    )
    assert r.status_code == 201 and r.json()["type"] == CLOUD
    assert (await http.get(f"{path}?agreementType={MCA}", headers=headers)).json()[
        "totalCount"
    ] == 0
    every = (await http.get(path, headers=headers)).json()["items"]
    assert [a["type"] for a in every][-1] == CLOUD


async def test_direct_signing_status_and_sandbox_switch(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    headers = auth(emu)
    customer = (await all_customers(http, headers))[0]["id"]
    path = f"/v1/customers/{customer}/directSignedMicrosoftCustomerAgreementStatus"
    for signed in (True, False):
        r = await http.post(
            f"/sandbox/customers/{customer}/direct-signing", json={"isSigned": signed}
        )
        assert r.status_code == 200
        body = (await http.get(path, headers=headers)).json()
        assert body == {
            "isSigned": signed,
            "attributes": {"objectType": "DirectSignedMicrosoftCustomerAgreementStatus"},
        }
    r = await http.post(
        f"/sandbox/customers/{uuid.uuid4()}/direct-signing", json={"isSigned": True}
    )
    assert r.status_code == 404


# --- create customer ---------------------------------------------------------------------------
async def test_create_customer_with_credentials_and_idempotent_replay(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    headers = auth(emu) | {"MS-RequestId": str(uuid.uuid4())}
    before = emu.health()["customers"]
    r = await http.post("/v1/customers", headers=headers, json=new_customer("adatumtest2026"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["companyProfile"] == {
        "tenantId": created["id"],
        "domain": "adatumtest2026.onmicrosoft.com",
        "companyName": "Adatum Test Ltd",
        "attributes": {"objectType": "CustomerCompanyProfile"},
    }
    assert created["commerceId"] and created["relationshipToPartner"] == "reseller"
    assert created["billingProfile"]["defaultAddress"]["city"] == "Seattle"
    creds = created["userCredentials"]
    assert creds["userName"] == "admin"
    password = creds["password"]
    assert len(password) >= 12
    assert re.search(r"[A-Z]", password) and re.search(r"[a-z]", password)
    assert re.search(r"\d", password) and re.search(r"[^A-Za-z0-9]", password)
    replay = await http.post("/v1/customers", headers=headers, json=new_customer("adatumtest2026"))
    assert replay.status_code == 201 and replay.json() == created
    assert emu.health()["customers"] == before + 1
    # The replay store does not hold the password in clear.
    raw = (emu.data_dir / "emulator.sqlite3").read_bytes()
    wal = emu.data_dir / "emulator.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert password.encode() not in raw
    # A new request id for the same domain: 409.
    r = await http.post("/v1/customers", headers=auth(emu), json=new_customer("adatumtest2026"))
    assert r.status_code == 409
    r = await http.get(f"/v1/customers/{created['id']}", headers=auth(emu))
    assert r.status_code == 200 and "userCredentials" not in r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (new_customer("Bad-Domain"), "companyProfile.domain"),
        (new_customer("a" * 28), "companyProfile.domain"),
        (
            new_customer("ok1", companyProfile={"domain": "ok1.contoso.com"}),
            "companyProfile.domain",
        ),
        (
            new_customer(
                "ok2", billingProfile=new_customer("x")["billingProfile"] | {"email": "nope"}
            ),
            "billingProfile.email",
        ),
        (
            new_customer(
                "ok3", billingProfile=new_customer("x")["billingProfile"] | {"companyName": " "}
            ),
            "billingProfile.companyName",
        ),
        (
            new_customer(
                "ok4",
                billingProfile=new_customer("x")["billingProfile"]
                | {"defaultAddress": {"country": "XX", "city": "Nowhere"}},
            ),
            "billingProfile.defaultAddress.country",
        ),
    ],
)
async def test_create_customer_validation(
    emu: Emulator, http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await http.post("/v1/customers", headers=auth(emu), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["parameters"]["field"] == field


async def test_create_customer_for_an_indirect_reseller(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    body = new_customer("northwindnew1", associatedPartnerId=NORTHWIND_TENANT_ID)
    r = await http.post("/v1/customers", headers=auth(emu, "provider-admin"), json=body)
    assert r.status_code == 201 and r.json()["associatedPartnerId"] == NORTHWIND_TENANT_ID
    mine = await all_customers(http, auth(emu, "indirect-reseller"))
    assert r.json()["id"] in {c["id"] for c in mine}
    assert_error(await http.post("/v1/customers", headers=auth(emu), json=body), 403, 600006)
    body = new_customer("northwindnew2", associatedPartnerId=CONTOSO_TENANT_ID)
    r = await http.post("/v1/customers", headers=auth(emu, "provider-admin"), json=body)
    assert_error(r, 400, 400056)


# --- relationship requests -----------------------------------------------------------------------
async def test_relationship_request_links(emu: Emulator, http: httpx.AsyncClient) -> None:
    path = "/v1/customers/relationshiprequests"
    r = await http.get(path, headers=auth(emu))
    assert r.json() == {
        "url": "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship"
        f"&partnerId={CONTOSO_TENANT_ID}&msppId=0&DAP=false#/BillingAccounts/partner-invitation",
        "attributes": {"objectType": "RelationshipRequest"},
    }
    indirect = (
        "https://admin.microsoft.com/Adminportal/Home?invType=IndirectResellerRelationship"
        f"&partnerId={NORTHWIND_TENANT_ID}&indirectCSPId={FABRIKAM_TENANT_ID}&msppId=0&DAP=false"
        "#/BillingAccounts/partner-invitation"
    )
    provider, reseller = auth(emu, "provider-admin"), auth(emu, "indirect-reseller")
    r = await http.get(f"{path}?indirectResellerId={NORTHWIND_TENANT_ID}", headers=provider)
    assert r.json()["url"] == indirect
    r = await http.get(
        f"{path}?indirectCloudSolutionProviderId={FABRIKAM_TENANT_ID}", headers=reseller
    )
    assert r.json()["url"] == indirect
    for headers, query in [
        (provider, f"indirectResellerId={CONTOSO_TENANT_ID}"),
        (provider, f"indirectCloudSolutionProviderId={FABRIKAM_TENANT_ID}"),
        (reseller, f"indirectCloudSolutionProviderId={CONTOSO_TENANT_ID}"),
        (reseller, f"indirectResellerId={TAILSPIN_TENANT_ID}"),
        (auth(emu), f"indirectResellerId={NORTHWIND_TENANT_ID}"),
        (provider, f"indirectResellerId={NORTHWIND_TENANT_ID}&dualRoleIndirectRelationship=maybe"),
    ]:
        assert_error(await http.get(f"{path}?{query}", headers=headers), 400, 400056)


# --- request ids -------------------------------------------------------------------------------
async def test_request_ids_are_echoed_or_minted(emu: Emulator, http: httpx.AsyncClient) -> None:
    rid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    ids = {"MS-RequestId": rid, "MS-CorrelationId": cid}
    for r in [
        await http.get("/v1/customers?size=1", headers=auth(emu) | ids),
        await http.get("/v1/customers", headers=ids),  # 401
        await http.get("/sandbox/health", headers=ids),
    ]:
        assert r.headers["MS-RequestId"] == rid and r.headers["MS-CorrelationId"] == cid
    r = await http.get("/v1/customers?size=1", headers=auth(emu))
    assert uuid.UUID(r.headers["MS-RequestId"]) and uuid.UUID(r.headers["MS-CorrelationId"])
    emu.faults = FaultConfig(fault_5xx=1.0, fault_seed=1)
    r = await http.get("/v1/customers", headers=auth(emu) | ids)
    assert r.status_code >= 500 and r.headers["MS-RequestId"] == rid


# --- faults ------------------------------------------------------------------------------------
async def test_random_429_with_retry_after(emu: Emulator, http: httpx.AsyncClient) -> None:
    emu.faults = FaultConfig(fault_429=1.0, retry_after_seconds=3, fault_seed=1)
    r = await http.get("/v1/customers", headers=auth(emu))
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert r.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 3 seconds.",
    }
    assert (await http.get("/sandbox/health")).status_code == 200  # never faulted


async def test_token_bucket_per_partner_tenant(tmp_path: Path) -> None:
    mono = Monotonic()
    em = open_emulator(tmp_path / "pc", customers=5, monotonic=mono)
    em.faults = FaultConfig(rate_limit_per_minute=120)  # 2 a second, bucket of 2
    contoso, fabrikam = auth(em), auth(em, "provider-admin")
    async with httpx.AsyncClient(transport=em.transport(), base_url=BASE) as http:
        assert (await http.get("/v1/customers", headers=contoso)).status_code == 200
        assert (await http.get("/v1/customers", headers=contoso)).status_code == 200
        r = await http.get("/v1/customers", headers=contoso)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert "Try again in 1 seconds" in r.json()["message"]
        assert (await http.get("/v1/customers", headers=fabrikam)).status_code == 200
        mono.t += 0.5  # one token back
        assert (await http.get("/v1/customers", headers=contoso)).status_code == 200
        assert (await http.get("/v1/customers", headers=contoso)).status_code == 429
        # A slow budget: Retry-After is the ceiling of the wait for one token.
        em.faults = FaultConfig(rate_limit_per_minute=6)  # one per 10 s, bucket of 1
        assert (await http.get("/v1/customers", headers=contoso)).status_code == 200
        mono.t += 2.5
        r = await http.get("/v1/customers", headers=contoso)
        assert r.status_code == 429 and r.headers["Retry-After"] == "8"
    em.close()


async def test_5xx_faults_are_reproducible(emu: Emulator, http: httpx.AsyncClient) -> None:
    async def statuses() -> list[int]:
        emu.faults = FaultConfig(fault_5xx=0.5, fault_seed=99)
        return [
            (await http.get("/v1/customers?size=1", headers=auth(emu))).status_code
            for _ in range(30)
        ]

    first = await statuses()
    assert first == await statuses()
    assert 200 in first and {500, 502, 503, 504} & set(first)
    emu.faults = FaultConfig(fault_5xx=1.0, fault_seed=4)
    seen: dict[int, httpx.Response] = {}
    for _ in range(40):
        r = await http.get("/v1/customers", headers=auth(emu))
        seen[r.status_code] = r
    assert set(seen) == {500, 502, 503, 504}
    assert seen[502].headers["content-type"].startswith("text/html")
    assert seen[503].json()["isRetryable"] is True


async def test_connection_reset_in_process(emu: Emulator, http: httpx.AsyncClient) -> None:
    emu.faults = FaultConfig(fault_reset=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        await http.get("/v1/customers", headers=auth(emu))


async def test_latency_and_hang_then_answer(emu: Emulator, http: httpx.AsyncClient) -> None:
    emu.faults = FaultConfig(latency_ms=60)
    started = time.perf_counter()
    assert (await http.get("/v1/customers?size=1", headers=auth(emu))).status_code == 200
    assert time.perf_counter() - started >= 0.06
    emu.faults = FaultConfig(fault_timeout=1.0, timeout_hang_seconds=0.05)
    started = time.perf_counter()
    r = await http.get("/v1/customers?size=1", headers=auth(emu), timeout=2.0)
    assert r.status_code == 200 and time.perf_counter() - started >= 0.05
    emu.faults = FaultConfig(fault_timeout=1.0, timeout_hang_seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        await http.get("/v1/customers?size=1", headers=auth(emu), timeout=0.05)


async def test_timeouts_on_posts_and_idempotent_retry(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    """Half the timed-out POSTs were applied; a retry with the same MS-RequestId is safe."""
    outcomes: set[bool] = set()
    for n in range(12):
        domain = f"timeout{n}"
        headers = auth(emu) | {"MS-RequestId": str(uuid.uuid4())}
        emu.faults = FaultConfig(fault_timeout=1.0, timeout_hang_seconds=2, fault_seed=n)
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                "/v1/customers", headers=headers, json=new_customer(domain), timeout=0.05
            )
        emu.faults = FaultConfig()
        filt = quote(json.dumps({"Field": "Domain", "Value": domain, "Operator": "starts_with"}))
        applied = bool(await all_customers(http, auth(emu), f"filter={filt}"))
        outcomes.add(applied)
        retry = await http.post("/v1/customers", headers=headers, json=new_customer(domain))
        assert retry.status_code == 201
        assert (retry.headers.get("X-Emulator-Replay") == "true") is applied
        assert len(await all_customers(http, auth(emu), f"filter={filt}")) == 1
        if outcomes == {True, False}:
            break
    assert outcomes == {True, False}


async def test_attest_retry_after_applied_timeout_is_a_replay_not_600061(
    emu: Emulator, http: httpx.AsyncClient
) -> None:
    customer = await fresh_customer(http, auth(emu))
    path = f"/v1/customers/{customer}/agreements"
    for seed in range(40):
        headers = auth(emu) | {"MS-RequestId": str(uuid.uuid4())}
        emu.faults = FaultConfig(fault_timeout=1.0, timeout_hang_seconds=2, fault_seed=seed)
        person = contact(phoneNumber=f"+1 425 555 {seed:04d}")
        with pytest.raises(httpx.ReadTimeout):
            await http.post(
                path, headers=headers, json=attestation(primaryContact=person), timeout=0.05
            )
        emu.faults = FaultConfig()
        count = (await http.get(f"{path}?agreementType={MCA}", headers=auth(emu))).json()[
            "totalCount"
        ]
        if count:
            r = await http.post(path, headers=headers, json=attestation(primaryContact=person))
            assert r.status_code == 201 and r.headers["X-Emulator-Replay"] == "true"
            r = await http.post(path, headers=auth(emu), json=attestation(primaryContact=person))
            assert_error(r, 409, 600061)  # a NEW request id: the usual duplicate check
            return
    raise AssertionError("no applied-before-hang timeout in 40 seeds")


async def test_faults_can_be_changed_at_run_time(emu: Emulator, http: httpx.AsyncClient) -> None:
    r = await http.put("/sandbox/faults", json={"fault_429": 1.0, "retry_after_seconds": 2})
    assert r.status_code == 200 and r.json()["fault_429"] == 1.0
    assert emu.faults.fault_429 == 1.0
    assert (await http.get("/v1/customers", headers=auth(emu))).status_code == 429
    assert (await http.put("/sandbox/faults", json={"fault_429": 0})).json()[
        "retry_after_seconds"
    ] == 2
    assert (await http.get("/v1/customers", headers=auth(emu))).status_code == 200
    assert (await http.put("/sandbox/faults", json={"nonsense": 1})).status_code == 400
    assert (await http.put("/sandbox/faults", json={"fault_5xx": 3})).status_code == 400
    assert (await http.get("/sandbox/faults")).json()["fault_429"] == 0


# --- persistence ---------------------------------------------------------------------------------
async def test_persistence_across_instances_and_reset(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    first = open_emulator(data, customers=20, seed=9)
    second = open_emulator(data, customers=999, seed=1)  # opens what is there: no reseed
    token = auth(first)
    async with (
        httpx.AsyncClient(transport=first.transport(), base_url=BASE) as a,
        httpx.AsyncClient(transport=second.transport(), base_url=BASE) as b,
    ):
        assert second.health()["customers"] == 40 and second.health()["seed"] == 9
        seeded_ids = [c["id"] for c in await all_customers(a, token)]
        created = await a.post("/v1/customers", headers=token, json=new_customer("persisted1"))
        customer = created.json()["id"]
        r = await b.post(f"/v1/customers/{customer}/agreements", headers=token, json=attestation())
        assert r.status_code == 201  # a token of the first works on the second: one key
        listed = await a.get(f"/v1/customers/{customer}/agreements", headers=token)
        assert listed.json()["totalCount"] == 1
        assert len(await all_customers(b, token)) == len(seeded_ids) + 1

        first.reset()
        assert (await b.get(f"/v1/customers/{customer}", headers=token)).status_code == 404
        assert first.health()["customers"] == 40
        assert [c["id"] for c in await all_customers(b, token)] == seeded_ids  # same seed data
        first.reset(rotate_key=True)
        assert_error(await a.get("/v1/customers", headers=token), 401, 1002)
    first.close()
    second.close()
    reopened = open_emulator(data)
    assert reopened.health()["customers"] == 40
    reopened.close()


# --- standalone over loopback --------------------------------------------------------------------
async def test_standalone_server_over_loopback(tmp_path: Path) -> None:
    em = open_emulator(tmp_path / "pc", customers=10)
    with run_in_thread(em) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            health = (await http.get("/sandbox/health")).json()
            assert health["status"] == "ok" and health["customers"] == 20
            token = (await http.post("/sandbox/token", json={"user": "admin-agent"})).json()
            headers = {"Authorization": f"Bearer {token['access_token']}", "MS-RequestId": "r-1"}
            r = await http.get("/v1/customers", headers=headers)
            assert r.status_code == 200 and r.json()["totalCount"] == 10
            assert r.headers["MS-RequestId"] == "r-1" and r.headers["MS-CorrelationId"]
            await http.put("/sandbox/faults", json={"fault_reset": 1.0})
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/v1/customers", headers=headers)
            await http.put("/sandbox/faults", json={"fault_reset": 0.0})
            assert (await http.get("/v1/customers", headers=headers)).status_code == 200
    em.close()
