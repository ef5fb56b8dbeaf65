"""The enhanced attestation channel against the emulator in process: the whole pipeline (create,
the customer accepts on the emulator's page, finalise, status), expiry on a fake clock, finalise
before acceptance, App+User and indirect resellers refused, resume after a crash, 600061, the
wire module's overrides, the invitation, the channel switch and the CLI."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mca_core import App, AttestRequest
from mca_core.auth.providers import MsalAppOnlyProvider
from mca_core.cli.main import main
from mca_core.config import load_settings, read_secrets_file
from mca_core.domain import errors
from mca_core.domain.models import TokenKind
from mca_core.emulator import SANDBOX_USERS, Emulator, run_in_thread
from mca_core.emulator import enhanced as emu_enhanced
from mca_core.partner_center.enhanced_wire import (
    WIRE_FIELDS,
    Certainty,
    EnhancedWire,
    acceptance_link,
    wire_table_markdown,
)
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore
from mca_core.usecases import channel as channels
from mca_core.usecases import enhanced
from mca_core.usecases.verify import verify_customer

from .conftest import BASE_URL, ROOT

ADMIN = SANDBOX_USERS["admin-agent"].identity()
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SIGNER = {"first_name": "Wei", "last_name": "Li", "email": "li.wei@example.com"}


class Clock:
    """One fake clock for the emulator and the desk (link expiry without sleeping)."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(tmp_path, clock) -> Emulator:
    return Emulator(tmp_path / "emulator", customers=30, seed=7, clock=clock)


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


@pytest.fixture
async def app_pc(make_client):
    return make_client("admin-agent", kind=TokenKind.APP_ONLY)


@pytest.fixture
async def customer_id(make_client) -> str:
    """A customer of Contoso with no attestation yet."""
    pc = make_client("admin-agent")
    for customer in await pc.list_customers():
        if not await pc.get_attestations(customer.id):
            return customer.id
    pytest.fail("the seed has no unattested customer")


async def create(pc, store, clock, customer_id, identity=ADMIN, **fields):
    values = {**SIGNER, "language": "zh-CN", **fields}
    return await enhanced.create_attestation(
        pc, store, identity, customer=customer_id, now=clock(), **values
    )


async def finalise(pc, store, clock, customer_id, identity=ADMIN, **kw):
    return await enhanced.finalise_attestation(
        pc, store, identity, customer=customer_id, now=clock(), **kw
    )


async def open_page(pc, link: str) -> httpx.Response:
    """The customer opens the acceptance link (no sign-in, no bearer)."""
    return await pc.http.get(link.removeprefix(BASE_URL))


async def click_accept(pc, page: httpx.Response) -> httpx.Response:
    """Submit the page's own form, as the browser does when the customer clicks Accept."""
    form = re.search(r"<form method='post' action='([^']+)'>(.*?)</form>", page.text, re.S)
    assert form, page.text
    fields = dict(re.findall(r"name='([^']+)' value='([^']+)'", form.group(2)))
    assert "Accept agreement" in form.group(2)
    return await pc.http.post(
        form.group(1),
        content="&".join(f"{k}={v}" for k, v in fields.items()),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def events(store: Store, action: str) -> list:
    return store.audit(action=action)


# --- the whole pipeline ----------------------------------------------------------------------


async def test_whole_pipeline_create_accept_on_page_finalise_status(
    app_pc, make_client, store, clock, customer_id, emulator
):
    created = await create(app_pc, store, clock, customer_id, phone="+86 10 6552 9988")
    record = created.attestation
    assert created.outcome == "link_created"
    assert record.state is AttestationState.LINK_SENT
    assert record.attestation_id and record.expires_at == START + timedelta(days=7)
    assert record.acceptance_link == f"{BASE_URL}/mca/?attestationid={record.attestation_id}"
    assert record.country and record.company_name  # defaulted from Partner Center's customer
    assert (
        enhanced.load_pipeline(store, ADMIN, "sandbox", now=clock()).counts[enhanced.Stage.PENDING]
        == 1
    )

    page = await open_page(app_pc, record.acceptance_link)
    assert page.status_code == 200 and record.company_name in page.text
    done = await click_accept(app_pc, page)
    assert done.status_code == 200 and "accepted the Microsoft Customer Agreement" in done.text

    summary = await enhanced.refresh_attestations(app_pc, store, ADMIN, now=clock())
    assert (summary.checked, summary.changed, summary.status_read) == (1, 1, True)
    pipeline = enhanced.load_pipeline(store, ADMIN, "sandbox", now=clock())
    assert pipeline.counts[enhanced.Stage.READY] == 1
    assert pipeline.items[0].attestation.accepted_at == START

    clock.advance(minutes=3)
    result = await finalise(app_pc, store, clock, customer_id)
    assert result.outcome == "attested"
    assert result.attestation.state is AttestationState.AGREEMENT_CREATED
    assert result.agreement.date_agreed == START  # dated when the customer accepted

    user_pc = make_client("admin-agent")  # the agreements GET is App+User, as ever
    status = await user_pc.get_attestations(customer_id)
    assert [a.primary_contact.email for a in status] == [SIGNER["email"]]
    verified = await verify_customer(user_pc, store, ADMIN, customer_id)
    assert verified.accepted
    assert verified.attestations[0].attested_by == ADMIN.display_name  # from the audit log
    assert [e.outcome for e in events(store, "attest_enhanced")] == ["link_created"]
    assert [e.outcome for e in events(store, "finalise")] == ["attested"]
    counts = enhanced.load_pipeline(store, ADMIN, "sandbox", now=clock()).counts
    assert counts[enhanced.Stage.DONE] == 1 and counts[enhanced.Stage.READY] == 0


async def test_same_request_twice_reuses_the_link_and_sends_nothing(
    app_pc, store, clock, customer_id, emulator
):
    first = await create(app_pc, store, clock, customer_id)
    calls = app_pc.stats.calls
    again = await create(app_pc, store, clock, customer_id, email="LI.WEI@example.com")
    assert again.outcome == "link_reused"
    assert again.attestation.attestation_id == first.attestation.attestation_id
    assert app_pc.stats.calls == calls + 1  # the customer lookup only
    with emulator.store.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM enhanced_attestations").fetchone()[0] == 1


# --- expiry on a fake clock -----------------------------------------------------------------


async def test_link_expires_on_the_clock_and_a_new_link_is_offered(
    app_pc, store, clock, customer_id, emulator
):
    old = (await create(app_pc, store, clock, customer_id)).attestation
    clock.advance(days=7, seconds=1)
    assert old.current_state(clock()) is AttestationState.EXPIRED
    page = await open_page(app_pc, old.acceptance_link)
    assert page.status_code == 410 and "expired" in page.text
    assert "<form" not in page.text
    assert emu_enhanced.accept(emulator, old.attestation_id) == "expired"

    await enhanced.refresh_attestations(app_pc, store, ADMIN, now=clock())
    pipeline = enhanced.load_pipeline(store, ADMIN, "sandbox", now=clock())
    assert pipeline.counts[enhanced.Stage.EXPIRED] == 1
    with pytest.raises(enhanced.AcceptanceLinkExpired):
        await finalise(app_pc, store, clock, customer_id)

    fresh = await create(app_pc, store, clock, customer_id)
    assert fresh.outcome == "link_created"
    assert fresh.attestation.attestation_id != old.attestation_id
    assert fresh.attestation.expires_at == clock() + timedelta(days=7)
    kept = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, customer_id)
    assert [r.state for r in kept] == [AttestationState.LINK_SENT, AttestationState.EXPIRED]


async def test_link_lifetime_is_configurable_and_the_test_clock_moves_over_http(
    app_pc, store, clock, customer_id
):
    http = app_pc.http
    assert (await http.get("/sandbox/enhanced")).json() == {"linkLifetimeSeconds": 604800.0}
    answer = await http.put("/sandbox/enhanced", json={"linkLifetimeSeconds": 300})
    assert answer.json()["linkLifetimeSeconds"] == 300
    assert (await http.put("/sandbox/enhanced", json={"linkLifetimeSeconds": 0})).status_code == 400
    record = (await create(app_pc, store, clock, customer_id)).attestation
    assert record.expires_at == START + timedelta(minutes=5)
    moved = await http.post("/sandbox/clock", json={"advanceSeconds": 301})
    assert moved.json()["now"].startswith("2026-11-20T09:05:01")
    assert (await open_page(app_pc, record.acceptance_link)).status_code == 410


# --- refusals ----------------------------------------------------------------------------------


async def test_finalise_before_acceptance_keeps_the_attestation(
    app_pc, store, clock, customer_id, emulator
):
    record = (await create(app_pc, store, clock, customer_id)).attestation
    with pytest.raises(enhanced.CustomerNotAcceptedYet) as caught:
        await finalise(app_pc, store, clock, customer_id)
    kept = caught.value.attestation
    assert kept.state is AttestationState.LINK_SENT and kept.finalise_attempt == 1
    assert kept.finalise_request_id is None  # an answer came: the next try gets a new id
    assert caught.value.cause.code == emu_enhanced.CODE_NOT_ACCEPTED
    assert events(store, "finalise")[0].outcome == "not_accepted"
    emu_enhanced.accept(emulator, record.attestation_id)
    done = await finalise(app_pc, store, clock, customer_id)
    assert done.outcome == "attested"
    assert done.attestation.finalise_request_id == enhanced.finalise_request_id(
        record.attestation_id, 1
    )


async def test_app_user_token_is_refused_by_the_desk_and_the_emulator(
    make_client, store, clock, customer_id, emulator
):
    user_pc = make_client("admin-agent")  # App+User
    with pytest.raises(enhanced.AppOnlyRequired, match="App-only"):
        await create(user_pc, store, clock, customer_id)
    assert events(store, "attest_enhanced")[0].outcome == "failed"
    assert user_pc.stats.calls == 0  # refused before any call
    with pytest.raises(errors.PermissionDenied) as caught:
        await user_pc.call("POST", "/v1/attestations/enhanced", body={"country": "US"})
    assert (caught.value.status, caught.value.code) == (403, 1002)
    with pytest.raises(errors.PermissionDenied):
        await user_pc.call(
            "POST", f"/v1/customers/{customer_id}/agreements", body={"attestationId": "x"}
        )


async def test_indirect_reseller_is_refused_by_the_desk_and_the_emulator(
    make_client, store, clock, emulator
):
    reseller = SANDBOX_USERS["indirect-reseller"].identity()
    pc = make_client("indirect-reseller", kind=TokenKind.APP_ONLY)
    customer = (await pc.list_customers())[0].id
    with pytest.raises(errors.AccessRefused) as caught:
        await create(pc, store, clock, customer, identity=reseller)
    assert caught.value.code == "reseller_cannot_attest"
    with pytest.raises(errors.PermissionDenied) as refused:
        await pc.call("POST", "/v1/attestations/enhanced", body={"country": "US"})
    assert refused.value.code == 600006
    assert events(store, "attest_enhanced")[0].outcome == "refused"


async def test_helpdesk_agent_is_refused(make_client, store, clock, customer_id):
    helpdesk = SANDBOX_USERS["helpdesk-agent"].identity()
    pc = make_client("helpdesk-agent", kind=TokenKind.APP_ONLY)
    with pytest.raises(errors.AccessRefused):
        await create(pc, store, clock, customer_id, identity=helpdesk)
    with pytest.raises(errors.AccessRefused):
        await finalise(pc, store, clock, customer_id, identity=helpdesk)


async def test_every_problem_of_the_form_before_any_call(app_pc, store, clock, customer_id):
    with pytest.raises(errors.InvalidInput) as caught:
        await create(
            app_pc,
            store,
            clock,
            customer_id,
            first_name="W3i",
            email="nope",
            country="XX",
            language="not a language",
        )
    assert set(caught.value.fields) == {"first_name", "email", "country", "language"}
    assert app_pc.stats.calls == 0
    assert enhanced.check_language("zh-cn") == "zh-CN"
    assert enhanced.check_language("zh_hans_cn") == "zh-Hans-CN"


async def test_identical_signer_details_answer_600061_as_done(
    app_pc, make_client, store, clock, emulator
):
    user_pc = make_client("admin-agent")
    attested = None
    for customer in await user_pc.list_customers():
        found = await user_pc.get_attestations(customer.id)
        if found:
            attested = (customer.id, found[0].primary_contact)
            break
    assert attested, "the seed has attested customers"
    cid, contact = attested
    record = (
        await create(
            app_pc,
            store,
            clock,
            cid,
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone_number,
        )
    ).attestation
    emu_enhanced.accept(emulator, record.attestation_id)
    before = len(await user_pc.get_attestations(cid))
    result = await finalise(app_pc, store, clock, cid)
    assert result.outcome == "already_attested"
    assert result.attestation.state is AttestationState.AGREEMENT_CREATED
    assert len(await user_pc.get_attestations(cid)) == before
    with pytest.raises(errors.AlreadyAttested):  # the emulator: a second finalise, 600061
        await app_pc.call(
            "POST",
            f"/v1/customers/{cid}/agreements",
            body={"attestationId": record.attestation_id},
        )


# --- resume after a crash --------------------------------------------------------------------


class LoseAnswer(httpx.AsyncBaseTransport):
    """Applies the request, then loses the answer of the first call to `path_end`: a crash or
    a cut connection after Partner Center acted."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path_end: str):
        self.inner, self.method, self.path_end = inner, method, path_end
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if (
            not self.lost
            and request.method == self.method
            and request.url.path.endswith(self.path_end)
        ):
            await response.aread()
            self.lost += 1
            raise httpx.RemoteProtocolError("connection reset after the request", request=request)
        return response


async def test_resume_after_a_crash_between_created_and_finalised(
    make_client, tmp_path, clock, customer_id, emulator
):
    store = Store(f"sqlite:///{tmp_path / 'crash.sqlite3'}")
    once = RetryPolicy(max_attempts=1)
    lose_create = LoseAnswer(emulator.transport(), "POST", "/attestations/enhanced")
    pc = make_client(kind=TokenKind.APP_ONLY, transport=lose_create, retry=once)
    with pytest.raises(errors.ConnectionFailed):
        await create(pc, store, clock, customer_id)
    [row] = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, customer_id)
    assert row.state is AttestationState.CREATING and row.attestation_id is None
    store.dispose()

    # "Restart": a new store object; the same request replays the same MS-RequestId.
    store = Store(f"sqlite:///{tmp_path / 'crash.sqlite3'}")
    pc = make_client(kind=TokenKind.APP_ONLY, retry=once)
    resumed = await create(pc, store, clock, customer_id)
    assert resumed.outcome == "link_created"
    assert resumed.attestation.request_id == row.request_id
    with emulator.store.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM enhanced_attestations").fetchone()[0] == 1
    emu_enhanced.accept(emulator, resumed.attestation.attestation_id)
    store.dispose()

    # Crash again, after the finalise reached Partner Center but before its answer.
    store = Store(f"sqlite:///{tmp_path / 'crash.sqlite3'}")
    lose_finalise = LoseAnswer(emulator.transport(), "POST", "/agreements")
    pc = make_client(kind=TokenKind.APP_ONLY, transport=lose_finalise, retry=once)
    with pytest.raises(errors.ConnectionFailed):
        await finalise(pc, store, clock, customer_id)
    [row] = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, customer_id)
    assert row.state is AttestationState.ACCEPTED or row.state is AttestationState.LINK_SENT
    assert row.finalise_request_id is not None  # kept: the next try replays it
    store.dispose()

    store = Store(f"sqlite:///{tmp_path / 'crash.sqlite3'}")
    pc = make_client(kind=TokenKind.APP_ONLY, retry=once)
    done = await finalise(pc, store, clock, customer_id)
    assert done.outcome == "attested"
    user_pc = make_client("admin-agent")
    assert len(await user_pc.get_attestations(customer_id)) == 1  # created exactly once


async def test_refresh_resumes_a_create_whose_answer_was_lost(
    make_client, store, clock, customer_id, emulator
):
    lose = LoseAnswer(emulator.transport(), "POST", "/attestations/enhanced")
    pc = make_client(kind=TokenKind.APP_ONLY, transport=lose, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(errors.ConnectionFailed):
        await create(pc, store, clock, customer_id)
    summary = await enhanced.refresh_attestations(pc, store, ADMIN, now=clock())
    assert summary.resumed == 1
    [row] = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, customer_id)
    assert row.state is AttestationState.LINK_SENT and row.attestation_id


# --- the wire module -------------------------------------------------------------------------


def test_every_wire_name_is_marked_and_the_readme_mirrors_the_table():
    assert {f.certainty for f in WIRE_FIELDS} == set(Certainty)
    confirmed = {f.name for f in WIRE_FIELDS if f.certainty is Certainty.CONFIRMED}
    assert {"create_path", "signatory_first_name", "signatory_last_name", "country"} <= confirmed
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert wire_table_markdown() in readme


def test_wire_overrides_are_checked():
    wire = EnhancedWire.with_overrides({"signatory_email": "signatoryEmailAddress"})
    assert wire.signatory_email == "signatoryEmailAddress"
    assert wire.overridden() == {"signatory_email": "signatoryEmailAddress"}
    with pytest.raises(errors.ConfigurationError, match="Known names"):
        EnhancedWire.with_overrides({"signer_mail": "x"})
    with pytest.raises(errors.ConfigurationError, match="attestation_id"):
        EnhancedWire.with_overrides({"status_path": "/v1/attestations/{id}"})
    assert EnhancedWire.with_overrides({"status_path": ""}).status_path == ""
    live = acceptance_link(EnhancedWire(), "a b", "https://api.partnercenter.microsoft.com")
    assert live == "https://cdn.partner.microsoft.com/mca/?attestationid=a%20b"


def test_wire_overrides_come_from_configuration(tmp_path):
    env = {"MCA_ENHANCED_WIRE": '{"language": "agreementLanguage"}'}
    assert load_settings(environ=env, secrets={}).enhanced_wire == {"language": "agreementLanguage"}
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[mca]\nattestation_channel = "enhanced"\n[mca.enhanced_wire]\n'
        'signatory_phone = "signatoryPhone"\n',
        encoding="utf-8",
    )
    settings = load_settings(environ={}, secrets=read_secrets_file(secrets))
    assert settings.attestation_channel == "enhanced"
    options = channels.EnhancedOptions.from_settings(settings)
    assert options.wire.signatory_phone == "signatoryPhone"
    with pytest.raises(errors.ConfigurationError, match="enhanced_wire"):
        load_settings(environ={"MCA_ENHANCED_WIRE": "{not json"}, secrets={})


async def test_a_corrected_name_is_sent_and_the_emulator_names_the_missing_field(
    app_pc, store, clock, customer_id
):
    wire = EnhancedWire.with_overrides({"signatory_email": "signatoryEmailAddress"})
    with pytest.raises(errors.BadRequest, match="signatoryEmail is required"):
        await create(app_pc, store, clock, customer_id, wire=wire)
    [row] = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, customer_id)
    assert row.state is AttestationState.FAILED and "signatoryEmail" in row.last_error


async def test_without_a_status_read_the_finalise_tells_acceptance(
    app_pc, store, clock, customer_id, emulator
):
    wire = EnhancedWire.with_overrides({"status_path": "/v1/nowhere/{attestation_id}"})
    record = (await create(app_pc, store, clock, customer_id, wire=wire)).attestation
    summary = await enhanced.refresh_attestations(app_pc, store, ADMIN, wire=wire, now=clock())
    assert summary.status_read is False and summary.changed == 0
    emu_enhanced.accept(emulator, record.attestation_id)
    done = await finalise(app_pc, store, clock, customer_id, wire=wire)
    assert done.outcome == "attested"


# --- the invitation, the channel switch ------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
async def test_invitation_carries_the_link_in_both_languages(
    app_pc, store, clock, customer_id, locale
):
    record = (await create(app_pc, store, clock, customer_id)).attestation
    mail = enhanced.acceptance_invitation(
        store, ADMIN, record, to=SIGNER["email"], locale=locale, now=clock()
    )
    assert mail.required_link == record.acceptance_link in mail.text_body
    assert record.acceptance_link.replace("&", "&amp;") in mail.html_body
    assert "Wei Li" in mail.text_body and "2026-11-27 09:00" in mail.text_body
    chinese = any(
        "\u4e00" <= ch <= "\u9fff" for ch in mail.text_body.replace(record.company_name, "")
    )
    assert chinese is (locale == "zh-CN")
    assert events(store, "invite")[0].inputs["kind"] == "enhanced_acceptance"
    clock.advance(days=8)
    with pytest.raises(errors.InvalidInput, match="expired"):
        enhanced.acceptance_invitation(store, ADMIN, record, locale=locale, now=clock())


def test_channel_actor_keeps_the_identity_and_swaps_the_token(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("sales-agent")
    app_only = app.actor_for(actor, TokenKind.APP_ONLY)
    assert app_only.identity == actor.identity
    assert app_only.tokens.kind is TokenKind.APP_ONLY
    assert app.actor_for(actor, TokenKind.APP_USER) is actor
    live = App.from_settings(
        load_settings({"backend": "live", "access_token": "opaque-user-token"})
    )
    with pytest.raises(errors.ConfigurationError, match="client credentials"):
        live.actor_for(actor, TokenKind.APP_ONLY)
    app_registered = App.from_settings(
        load_settings(
            {
                "backend": "live",
                "partner_tenant_id": "00000000-0000-0000-0000-00000000000a",
                "client_id": "00000000-0000-0000-0000-00000000000b",
                "client_secret": "not-a-real-secret",
            }
        )
    )
    first = app_registered.actor_for(actor, TokenKind.APP_ONLY)
    assert isinstance(first.tokens, MsalAppOnlyProvider)  # client credentials, built lazily
    assert first.identity == actor.identity
    assert app_registered.actor_for(actor, TokenKind.APP_ONLY).tokens is first.tokens


def test_a_standalone_emulator_serves_the_link_and_plays_the_customer(sandbox_env, tmp_path):
    standalone = Emulator(tmp_path / "standalone", customers=10, seed=3)
    with run_in_thread(standalone) as url:
        app = App.from_settings(load_settings({"sandbox_url": url}))
        assert app.link_reachable
        actor = app.sandbox_actor("admin-agent")
        customer = app.list_customers(actor)[0].id
        result = app.attest(
            actor,
            AttestRequest(customer=customer, language="en", channel="enhanced", **SIGNER),
        )
        attestation_id = result.enhanced.attestation.attestation_id
        assert result.acceptance_link == f"{url}/mca/?attestationid={attestation_id}"
        page = httpx.get(result.acceptance_link)
        assert page.status_code == 200 and "Accept agreement" in page.text
        assert app.play_customer_accepts(attestation_id) == "accepted"
        assert app.play_customer_accepts(attestation_id) == "already"
        assert app.play_customer_accepts("no-such-attestation") == "unknown"
    embedded = App.from_settings(load_settings())
    assert not embedded.link_reachable


# --- the command line --------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_attest_finalise_pipeline(sandbox_env, monkeypatch):
    _, out, _ = run("--json", "customers")
    customer = json.loads(out)[5]["id"]
    signer = ["--first-name", "Mei", "--last-name", "Chen", "--email", "mei@example.com"]
    code, out, err = run(
        "--json", "attest", customer, *signer, "--channel", "enhanced", "--language", "zh-CN"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["outcome"] == "link_created" and doc["language"] == "zh-CN"
    assert doc["acceptance_link"].endswith(f"attestationid={doc['attestation_id']}")

    code, _, err = run("finalise", customer)
    assert code == 4 and "not accepted the agreement yet" in err

    code, out, _ = run("pipeline", "--json")
    assert code == 0 and json.loads(out)["counts"]["pending"] == 1

    assert run("sandbox-accept", doc["attestation_id"])[0] == 0
    monkeypatch.setenv("MCA_AUTO_FINALISE", "false")  # by hand, this once
    code, out, _ = run("pipeline")
    assert "ready to finalise 1" in out
    code, out, err = run("finalise", customer)
    assert code == 0, err
    assert "Agreement created" in out
    monkeypatch.delenv("MCA_AUTO_FINALISE")
    code, out, _ = run("--json", "status", customer)
    assert json.loads(out)["accepted"] is True
    assert run("finalise", customer)[0] == 0  # already: done

    # The configured channel decides when --channel is not given; the command line is the same.
    monkeypatch.setenv("MCA_ATTESTATION_CHANNEL", "enhanced")
    other = json.loads(run("--json", "customers")[1])[6]["id"]
    code, out, err = run("--json", "attest", other, *signer)
    assert code == 0, err
    assert json.loads(out)["channel"] == "enhanced"
    code, _, err = run("--as", "helpdesk-agent", "finalise", other)
    assert code == 3, err

    # By default the pipeline's refresh finalises what the customer accepted (auto_finalise).
    created = json.loads(out)["attestation_id"]
    assert run("sandbox-accept", created)[0] == 0
    code, out, _ = run("--json", "pipeline")
    assert code == 0 and json.loads(out)["counts"]["ready"] == 0
    code, out, _ = run("--json", "status", other)
    assert json.loads(out)["accepted"] is True


def test_readme_lists_the_new_commands():
    readme = Path(ROOT / "README.md").read_text(encoding="utf-8")
    for text in ("--channel enhanced", "finalise CUSTOMER_ID", "pipeline [--json]"):
        assert text in readme
