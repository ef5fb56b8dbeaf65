"""The enhanced flow's wire as production speaks it in 2026 (section 10 of the API notes):
states compared case-insensitively in the partner tools' words, a requested link lifetime
(`expirationTime`, minutes), the finalise's `templateId`, a create body that may leave the
customer out, and agreement languages as culture codes. Every name stays in `EnhancedWire`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mca_core import App, AttestRequest
from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.domain import errors
from mca_core.domain.models import AgreementTemplate, Contact, TokenKind
from mca_core.emulator import (
    CLOUD_AGREEMENT_TEMPLATE_ID,
    MCA_TEMPLATE_ID,
    OLD_MCA_TEMPLATE_ID,
    SANDBOX_USERS,
    Emulator,
)
from mca_core.emulator import enhanced as emu_enhanced
from mca_core.partner_center.enhanced_wire import (
    MAY_BE_EMPTY,
    WIRE_FIELDS,
    Certainty,
    EnhancedWire,
    ServiceState,
    create_body,
    finalise_body,
    parse_status,
)
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import AttestationState
from mca_core.usecases import enhanced

ADMIN = SANDBOX_USERS["admin-agent"].identity()
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SIGNER = {"first_name": "Wei", "last_name": "Li", "email": "li.wei@example.com"}


class Clock:
    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(tmp_path, clock) -> Emulator:
    return Emulator(tmp_path / "emulator", customers=20, seed=7, clock=clock)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


@pytest.fixture
async def app_pc(make_client):
    return make_client("admin-agent", kind=TokenKind.APP_ONLY)


@pytest.fixture
async def customer_id(make_client) -> str:
    pc = make_client("admin-agent")
    for customer in await pc.list_customers():
        if not await pc.get_attestations(customer.id):
            return customer.id
    pytest.fail("the seed has no unattested customer")


class Recorder(httpx.AsyncBaseTransport):
    """Keeps every request body sent through it (JSON), then passes the request on."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.sent: list[tuple[str, str, dict]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.sent.append((request.method, request.url.path, body))
        return await self.inner.handle_async_request(request)

    def bodies(self, path_end: str) -> list[dict]:
        return [b for m, p, b in self.sent if m == "POST" and p.endswith(path_end)]


async def create(pc, store, clock, customer, **fields):
    values = {**SIGNER, "language": "en-US", **fields}
    return await enhanced.create_attestation(
        pc, store, ADMIN, customer=customer, now=clock(), **values
    )


# --- states ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "state"),
    [
        ("customeraccepted", ServiceState.ACCEPTED),
        ("CustomerAccepted", ServiceState.ACCEPTED),
        ("Accepted", ServiceState.ACCEPTED),
        ("ACCEPTED", ServiceState.ACCEPTED),
        ("LinkExpired", ServiceState.EXPIRED),
        ("expired", ServiceState.EXPIRED),
        ("linkgenerated", ServiceState.LINK_GENERATED),
        ("AgreementCreated", ServiceState.AGREEMENT_CREATED),
        ("Required", ServiceState.REQUIRED),
        (" required ", ServiceState.REQUIRED),
        ("somethingElse", ServiceState.UNKNOWN),
    ],
)
def test_states_are_compared_case_insensitively_in_old_and_new_words(value, state):
    assert parse_status(EnhancedWire(), {"status": value}).state is state


def test_status_values_are_lists_a_partner_can_correct():
    wire = EnhancedWire.with_overrides({"status_accepted": "Signed, Approved"})
    assert parse_status(wire, {"status": "approved"}).state is ServiceState.ACCEPTED
    assert parse_status(wire, {"status": "customeraccepted"}).state is ServiceState.UNKNOWN
    assert {f.name: f.certainty for f in WIRE_FIELDS}["status_accepted"] is Certainty.ASSUMED


async def test_the_emulator_answers_in_the_partner_tools_words_and_the_desk_follows(
    app_pc, store, clock, customer_id, emulator
):
    record = (await create(app_pc, store, clock, customer_id)).attestation
    path = f"/v1/attestations/enhanced/{record.attestation_id}"
    assert (await app_pc.call("GET", path))[0]["status"] == "linkgenerated"
    emu_enhanced.accept(emulator, record.attestation_id)
    assert (await app_pc.call("GET", path))[0]["status"] == "customeraccepted"
    summary = await enhanced.refresh_attestations(app_pc, store, ADMIN, now=clock())
    assert summary.changed == 1
    [row] = enhanced.customer_attestations(store, ADMIN, customer_id)
    assert row.state is AttestationState.ACCEPTED
    await enhanced.finalise_attestation(app_pc, store, ADMIN, customer=customer_id, now=clock())
    assert (await app_pc.call("GET", path))[0]["status"] == "agreementcreated"
    other = (await create(app_pc, store, clock, customer_id, email="x@example.com")).attestation
    clock.now += timedelta(days=8)
    answer = await app_pc.call("GET", f"/v1/attestations/enhanced/{other.attestation_id}")
    assert answer[0]["status"] == "linkexpired"


# --- the requested link lifetime ---------------------------------------------------------------


async def test_a_requested_lifetime_is_sent_in_minutes_and_honoured(
    make_client, store, clock, customer_id, emulator
):
    recorder = Recorder(emulator.transport())
    pc = make_client(kind=TokenKind.APP_ONLY, transport=recorder)
    created = await create(pc, store, clock, customer_id, requested_lifetime_minutes=90)
    assert recorder.bodies("/attestations/enhanced")[0]["expirationTime"] == 90
    assert created.attestation.expires_at == START + timedelta(minutes=90)
    row = emu_enhanced.find_attestation(emulator, created.attestation.attestation_id)
    assert row["expires_ts"] == (START + timedelta(minutes=90)).timestamp()
    [event] = store.audit(action="attest_enhanced")
    assert event.inputs["link_lifetime_minutes"] == "90"

    # None requested: nothing sent, the service decides (the emulator: 7 days).
    other = await create(pc, store, clock, customer_id, email="other@example.com")
    assert "expirationTime" not in recorder.bodies("/attestations/enhanced")[-1]
    assert other.attestation.expires_at == START + timedelta(days=7)


@pytest.mark.parametrize("minutes", [4, 4.4, 10081, 0, -5, "soon", True, float("nan")])
async def test_a_lifetime_out_of_range_is_invalid_before_any_call(
    app_pc, store, clock, customer_id, minutes
):
    calls = app_pc.stats.calls
    with pytest.raises(errors.InvalidInput) as caught:
        await create(app_pc, store, clock, customer_id, requested_lifetime_minutes=minutes)
    [problem] = caught.value.problems
    assert (problem.field, problem.code) == ("link_lifetime", "link_lifetime_range")
    assert "5 minutes and 7 days" in problem.reason
    assert app_pc.stats.calls == calls


async def test_every_problem_at_once_includes_the_lifetime(app_pc, store, clock, customer_id):
    with pytest.raises(errors.InvalidInput) as caught:
        await create(app_pc, store, clock, customer_id, email="nope", requested_lifetime_minutes=3)
    assert set(caught.value.fields) == {"email", "link_lifetime"}
    assert enhanced.check_link_lifetime(5) == 5 and enhanced.check_link_lifetime(10080) == 10080
    assert enhanced.check_link_lifetime(None) is None
    assert enhanced.check_link_lifetime(enhanced.minutes_of_hours(0.5)) == 30


async def test_the_emulator_refuses_a_broken_expiration_time(app_pc, customer_id):
    body = {
        "customerTenantId": customer_id,
        "signatoryFirstName": "Wei",
        "signatoryLastName": "Li",
        "signatoryEmail": "li.wei@example.com",
        "companyName": "Contoso",
        "country": "US",
        "language": "en-US",
    }
    for bad in (4, 10081, "60", 1.5):
        with pytest.raises(errors.BadRequest, match="expirationTime"):
            await app_pc.call(
                "POST", "/v1/attestations/enhanced", body={**body, "expirationTime": bad}
            )
    data, _ = await app_pc.call(
        "POST", "/v1/attestations/enhanced", body={**body, "expirationTime": 10080}
    )
    assert data["status"] == "linkgenerated"


def test_cli_link_lifetime_hours(sandbox_env):
    customers = json.loads(_run("--json", "customers")[1])
    signer = ["--first-name", "Mei", "--last-name", "Chen", "--email", "mei@example.com"]
    base = ["--json", "attest", customers[4]["id"], *signer, "--channel", "enhanced"]
    before = datetime.now(UTC)
    code, out, err = _run(*base, "--link-lifetime-hours", "48")
    assert code == 0, err
    doc = json.loads(out)
    expires = datetime.fromisoformat(doc["expires_at"])
    assert before + timedelta(hours=47.9) < expires < datetime.now(UTC) + timedelta(hours=48)
    assert doc["language"] == "en-US"  # the default, a culture code
    code, out, err = _run(*base[:-2], "--channel", "enhanced", "--link-lifetime-hours", "200")
    assert code == 2
    problem = json.loads(out)["problems"][0]
    assert problem["field"] == "--link-lifetime-hours" and problem["code"] == "link_lifetime_range"
    code, _, err = _run("attest", customers[5]["id"], *signer, "--channel", "enhanced",
                        "--link-lifetime-hours", "0.05")  # fmt: skip
    assert code == 2 and "--link-lifetime-hours 0.05 is outside 5 minutes to 7 days" in err


def test_app_request_carries_the_link_lifetime(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    customer = app.list_customers(actor)[7].id
    before = datetime.now(UTC)
    outcome = app.attest(
        actor,
        AttestRequest(
            customer=customer, language="de", channel="enhanced", link_lifetime_hours=1, **SIGNER
        ),
    )
    record = outcome.enhanced.attestation
    assert record.language == "de-DE"  # an old two-letter value, mapped
    assert (
        before + timedelta(minutes=59) < record.expires_at <= datetime.now(UTC) + timedelta(hours=1)
    )


# --- the finalise's templateId -----------------------------------------------------------------


async def test_the_finalise_sends_the_mca_template(
    make_client, store, clock, customer_id, emulator
):
    recorder = Recorder(emulator.transport())
    pc = make_client(kind=TokenKind.APP_ONLY, transport=recorder)
    record = (await create(pc, store, clock, customer_id)).attestation
    emu_enhanced.accept(emulator, record.attestation_id)
    done = await enhanced.finalise_attestation(pc, store, ADMIN, customer=customer_id, now=clock())
    assert done.outcome == "attested"
    [body] = recorder.bodies("/agreements")
    assert body["templateId"] == MCA_TEMPLATE_ID == EnhancedWire().mca_template_id
    assert body["attestationId"] == record.attestation_id
    # no metadata read with the App-only token (Partner Center refuses it)
    assert not [p for m, p, _ in recorder.sent if p == "/v1/agreements"]


def test_the_finalise_body_prefers_the_template_the_desk_read():
    signer = Contact(first_name="Wei", last_name="Li", email="li.wei@example.com")
    body = finalise_body(EnhancedWire(), attestation_id="a", signer=signer, template_id="t-read")
    assert body["templateId"] == "t-read"
    body = finalise_body(EnhancedWire(), attestation_id="a", signer=signer)
    assert body["templateId"] == MCA_TEMPLATE_ID
    quiet = EnhancedWire.with_overrides({"finalise_template": ""})
    assert "templateId" not in finalise_body(quiet, attestation_id="a", signer=signer)


async def test_a_cached_template_is_what_the_finalise_sends(
    make_client, store, clock, customer_id, emulator
):
    recorder = Recorder(emulator.transport())
    pc = make_client(kind=TokenKind.APP_ONLY, transport=recorder)
    template = AgreementTemplate(
        template_id=MCA_TEMPLATE_ID.upper(),
        agreement_type="MicrosoftCustomerAgreement",
        agreement_link="https://aka.ms/customeragreement",
        version_rank=0,
    )
    pc.templates.put(pc.base_url, template)
    record = (await create(pc, store, clock, customer_id)).attestation
    emu_enhanced.accept(emulator, record.attestation_id)
    await enhanced.finalise_attestation(pc, store, ADMIN, customer=customer_id, now=clock())
    assert recorder.bodies("/agreements")[0]["templateId"] == MCA_TEMPLATE_ID.upper()


@pytest.mark.parametrize(
    ("template", "name"),
    [
        (OLD_MCA_TEMPLATE_ID, "TemplateNotSupported"),
        (CLOUD_AGREEMENT_TEMPLATE_ID, "TemplateNotSupported"),
        ("00000000-0000-0000-0000-000000000000", "TemplateNotFound"),
    ],
)
async def test_the_emulator_refuses_a_wrong_template_on_finalise(
    app_pc, store, clock, customer_id, emulator, template, name
):
    record = (await create(app_pc, store, clock, customer_id)).attestation
    emu_enhanced.accept(emulator, record.attestation_id)
    path = f"/v1/customers/{customer_id}/agreements"
    with pytest.raises(errors.BadRequest) as caught:
        await app_pc.call(
            "POST", path, body={"attestationId": record.attestation_id, "templateId": template}
        )
    assert caught.value.error_name == name
    data, _ = await app_pc.call("POST", path, body={"attestationId": record.attestation_id})
    assert data["attestationId"] == record.attestation_id  # without templateId: accepted


# --- the customer left out of the create body ---------------------------------------------------


async def test_the_customer_can_be_left_out_of_the_create_body(
    make_client, store, clock, customer_id, tmp_path
):
    wire = EnhancedWire.with_overrides({"customer_tenant_id": ""})
    signer = Contact(first_name="Wei", last_name="Li", email="li.wei@example.com")
    body = create_body(
        wire, customer_id="c", signer=signer, company_name="C", country="US", language="en-US"
    )
    assert "customerTenantId" not in body and "" not in body

    # The default emulator needs the customer (it is the assumed wire): it says which field.
    pc = make_client(kind=TokenKind.APP_ONLY)
    with pytest.raises(errors.BadRequest, match="customerTenantId is required"):
        await create(pc, store, clock, customer_id, wire=wire)

    # An emulator told the desk does not send it binds the attestation at the finalise.
    loose = Emulator(
        tmp_path / "loose", customers=20, seed=7, clock=clock, enhanced_customer_required=False
    )
    pc = make_client(kind=TokenKind.APP_ONLY, emu=loose)
    fresh = Store(f"sqlite:///{tmp_path / 'loose-desk.sqlite3'}")
    record = (await create(pc, fresh, clock, customer_id, wire=wire)).attestation
    status, _ = await pc.call("GET", f"/v1/attestations/enhanced/{record.attestation_id}")
    assert "customerTenantId" not in status  # bound to no customer yet
    emu_enhanced.accept(loose, record.attestation_id)
    done = await enhanced.finalise_attestation(
        pc, fresh, ADMIN, customer=customer_id, wire=wire, now=clock()
    )
    assert done.outcome == "attested"
    status, _ = await pc.call("GET", f"/v1/attestations/enhanced/{record.attestation_id}")
    assert status["customerTenantId"] == customer_id
    user_pc = make_client("admin-agent", emu=loose)
    assert len(await user_pc.get_attestations(customer_id)) == 1
    fresh.dispose()


def test_the_embedded_sandbox_follows_a_desk_that_leaves_the_customer_out(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_ENHANCED_WIRE", '{"customer_tenant_id": ""}')
    app = App.from_settings(load_settings())
    assert app.desk.emulator.enhanced_customer_required is False
    actor = app.sandbox_actor("admin-agent")
    customer = app.list_customers(actor)[3].id
    outcome = app.attest(
        actor, AttestRequest(customer=customer, language="en-US", channel="enhanced", **SIGNER)
    )
    assert outcome.outcome == "link_created"
    assert app.play_customer_accepts(outcome.enhanced.attestation.attestation_id) == "accepted"
    assert app.finalise(actor, customer).outcome == "attested"


def test_only_some_names_may_be_emptied():
    for name in MAY_BE_EMPTY:
        assert getattr(EnhancedWire.with_overrides({name: ""}), name) == ""
    with pytest.raises(errors.ConfigurationError, match="may not be empty"):
        EnhancedWire.with_overrides({"signatory_email": ""})
    names = {f.name: f for f in WIRE_FIELDS}
    for name in ("expiration_time", "finalise_template", "mca_template_id", "status_required"):
        assert names[name].certainty is Certainty.ASSUMED


# --- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("en", "en-US"),
        ("EN", "en-US"),
        ("de", "de-DE"),
        ("ja", "ja-JP"),
        ("zh-hk", "zh-HK"),
        ("zh_CN", "zh-CN"),
        ("en-GB", "en-GB"),
        ("pt-br", "pt-BR"),
        ("zh-Hans-CN", "zh-Hans-CN"),
    ],
)
def test_languages_are_culture_codes_and_old_values_are_mapped(given, sent):
    assert enhanced.check_language(given) == sent


def test_every_offered_language_is_a_culture_code_kept_as_it_is():
    assert isinstance(enhanced.AGREEMENT_LANGUAGES, tuple)
    assert {"en-US", "zh-CN", "zh-HK", "de-DE"} <= set(enhanced.AGREEMENT_LANGUAGES)
    for code in enhanced.AGREEMENT_LANGUAGES:
        assert enhanced.check_language(code) == code and "-" in code
    problem = enhanced.check_language("xx")
    assert isinstance(problem, errors.Problem) and problem.code == "bad_language"
    assert "culture code" in problem.fix


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()
