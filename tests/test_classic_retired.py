"""Microsoft retired the classic attestation call on 2026-01-05 (what it answers now is not
public): the emulator can refuse it from a configured day with a configured status and code,
never the enhanced finalise on the same path; the desk names the way forward
(`ClassicAttestationRetired`, exit 1, audited as failed); both command lines that start the
emulator take the flags, and the embedded sandbox takes the settings."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import httpx
import pytest

from mca_core import App, AttestRequest
from mca_core.cli.main import build_parser, main
from mca_core.config import load_settings, optional_day
from mca_core.domain import errors
from mca_core.domain.models import Contact, TokenKind
from mca_core.emulator import MCA_TEMPLATE_ID, SANDBOX_USERS, Emulator
from mca_core.emulator import __main__ as standalone
from mca_core.emulator import enhanced as emu_enhanced
from mca_core.store.database import Store
from mca_core.usecases import enhanced
from mca_core.usecases.attestation import attest_customer

ADMIN = SANDBOX_USERS["admin-agent"].identity()
RETIRED = date(2026, 1, 5)
AFTER = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BEFORE = datetime(2026, 1, 4, 23, 59, tzinfo=UTC)
CONTACT = {"firstName": "Jane", "lastName": "Doe", "email": "jane@contoso.com"}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def classic_body(day: str = "2026-01-02T00:00:00.000Z") -> dict:
    return {
        "primaryContact": CONTACT,
        "templateId": MCA_TEMPLATE_ID,
        "dateAgreed": day,
        "type": "MicrosoftCustomerAgreement",
    }


@pytest.fixture
def clock() -> Clock:
    return Clock(AFTER)


@pytest.fixture
def emulator(tmp_path, clock) -> Emulator:
    return Emulator(
        tmp_path / "emulator", customers=20, seed=7, clock=clock, classic_retired_on=RETIRED
    )


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


async def unattested(pc) -> str:
    for customer in await pc.list_customers():
        if not await pc.get_attestations(customer.id):
            return customer.id
    pytest.fail("the seed has no unattested customer")


# --- the emulator ----------------------------------------------------------------------------


async def test_after_the_day_a_classic_post_is_refused_but_a_finalise_is_not(
    make_client, emulator, clock, store
):
    user_pc = make_client("admin-agent")
    customer = await unattested(user_pc)
    answer = await user_pc.http.post(
        f"/v1/customers/{customer}/agreements",
        json=classic_body(),
        headers={"Authorization": f"Bearer {emulator.issue_token('admin-agent')}"},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == 600098 and body["errorName"] == "ClassicAttestationRetired"
    assert "retired on 2026-01-05" in body["message"] and "enhanced" in body["message"]
    assert answer.headers["MS-RequestId"]
    assert await user_pc.get_attestations(customer) == []  # nothing stored

    # The enhanced flow's finalise uses the same path, with the attestation id: never refused.
    app_pc = make_client("admin-agent", kind=TokenKind.APP_ONLY)
    created = await enhanced.create_attestation(
        app_pc,
        store,
        ADMIN,
        customer=customer,
        first_name="Jane",
        last_name="Doe",
        email="jane@contoso.com",
        language="en-US",
        now=clock(),
    )
    assert emu_enhanced.accept(emulator, created.attestation.attestation_id) == "accepted"
    data, _ = await app_pc.call(
        "POST",
        f"/v1/customers/{customer}/agreements",
        body={"attestationId": created.attestation.attestation_id, "templateId": MCA_TEMPLATE_ID},
    )
    assert data["attestationId"] == created.attestation.attestation_id
    assert len(await user_pc.get_attestations(customer)) == 1


async def test_the_refusal_status_and_code_are_configurable(make_client, tmp_path, clock):
    emu = Emulator(
        tmp_path / "other",
        customers=10,
        seed=3,
        clock=clock,
        classic_retired_on=RETIRED,
        classic_refusal_status=410,
        classic_refusal_code=600099,
    )
    pc = make_client("admin-agent", emu=emu)
    customer = await unattested(pc)
    with pytest.raises(errors.ServiceError) as caught:
        await pc.call("POST", f"/v1/customers/{customer}/agreements", body=classic_body())
    assert (caught.value.status, caught.value.code) == (410, 600099)
    assert emu.health()["classicRetiredOn"] == "2026-01-05"
    with pytest.raises(ValueError, match="HTTP error status"):
        Emulator(tmp_path / "bad", customers=1, classic_refusal_status=200)


def _contact() -> Contact:
    return Contact(first_name="Jane", last_name="Doe", email="jane@contoso.com")


async def test_before_the_day_and_by_default_the_classic_call_works(make_client, emulator, clock):
    clock.now = BEFORE
    pc = make_client("admin-agent")
    customer = await unattested(pc)
    result = await pc.attest(customer, _contact(), date(2026, 1, 2))
    assert result.outcome == "attested"
    clock.now = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # the day itself: refused
    other = await unattested(pc)
    with pytest.raises(errors.BadRequest):
        await pc.attest(other, _contact(), date(2026, 1, 2))
    never = Emulator(emulator.data_dir, clock=clock)  # classic_retired_on=None: as today
    assert not never.classic_retired()
    pc = make_client("admin-agent", emu=never)
    assert (await pc.attest(other, _contact(), date(2026, 1, 2))).outcome == "attested"


# --- the desk --------------------------------------------------------------------------------


async def test_the_classic_use_case_names_the_enhanced_flow_and_keeps_the_request_id(
    make_client, emulator, store
):
    pc = make_client("admin-agent")
    customer = await unattested(pc)
    with pytest.raises(errors.ClassicAttestationRetired) as caught:
        await attest_customer(
            pc,
            store,
            ADMIN,
            customer=customer,
            first_name="Jane",
            last_name="Doe",
            email="jane@contoso.com",
            date_agreed="2026-01-02",
        )
    error = caught.value
    assert isinstance(error, errors.PartnerCenterError)
    assert 'attestation_channel = "enhanced"' in str(error) and "--channel enhanced" in str(error)
    assert error.request_id and (error.status, error.code) == (400, 600098)
    [event] = store.audit(action="attest")
    assert event.outcome == "failed" and event.request_id == error.request_id
    assert "ClassicAttestationRetired" in event.detail

    # A desk configured for another refusal does not mistake this one for the retirement.
    with pytest.raises(errors.BadRequest) as other:
        await attest_customer(
            pc,
            store,
            ADMIN,
            customer=customer,
            first_name="Jane",
            last_name="Doe",
            email="jane@contoso.com",
            date_agreed="2026-01-02",
            retired_status=410,
            retired_code=600099,
        )
    assert not isinstance(other.value, errors.ClassicAttestationRetired)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _retired_day() -> str:
    # The embedded sandbox runs on the real clock: the day must not be in its future.
    return min(RETIRED, datetime.now(UTC).date()).isoformat()


def test_cli_classic_attest_against_a_retired_sandbox_exits_1(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_SANDBOX_CLASSIC_RETIRED_ON", _retired_day())
    customers = json.loads(run("--json", "customers")[1])
    customer = customers[2]["id"]
    today = datetime.now(UTC).date().isoformat()
    signer = ["--first-name", "Jane", "--last-name", "Doe", "--email", "jane@contoso.com"]
    code, out, err = run("attest", customer, *signer, "--date", today, "--channel", "classic")
    assert code == 1, err
    assert "enhanced flow" in err and "--channel enhanced" in err and "MS-RequestId" in err
    code, out, err = run(
        "--json", "attest", customer, *signer, "--date", today, "--channel", "classic"
    )
    doc = json.loads(out)
    assert code == 1 and doc["error"] == "partner_center" and doc["request_id"]
    assert "enhanced flow" in doc["message"]

    store = Store(load_settings().resolved_store_url)
    events = store.audit(action="attest")
    assert [e.outcome for e in events] == ["failed", "failed"]  # one row per attempt
    assert all(e.customer_id == customer and e.request_id for e in events)
    store.dispose()
    # The enhanced channel is unaffected.
    code, _, err = run("attest", customer, *signer, "--channel", "enhanced")
    assert code == 0, err


def test_app_passes_the_configured_refusal_to_the_use_case(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_SANDBOX_CLASSIC_RETIRED_ON", _retired_day())
    monkeypatch.setenv("MCA_CLASSIC_RETIRED_STATUS", "410")
    monkeypatch.setenv("MCA_CLASSIC_RETIRED_CODE", "600099")
    app = App.from_settings(load_settings())
    assert app.desk.emulator.classic_refusal_status == 410  # the sandbox refuses as configured
    actor = app.sandbox_actor("admin-agent")
    customer = app.list_customers(actor)[0].id
    request = AttestRequest(
        customer=customer,
        first_name="Jane",
        last_name="Doe",
        email="jane@contoso.com",
        date_agreed=datetime.now(UTC).date().isoformat(),
        channel="classic",
    )
    with pytest.raises(errors.ClassicAttestationRetired) as caught:
        app.attest(actor, request)
    assert (caught.value.status, caught.value.code) == (410, 600099)


# --- settings and flags ----------------------------------------------------------------------


def test_the_sandbox_setting_takes_a_day_or_never():
    # the sandbox refuses what production refuses, by default
    assert load_settings(environ={}, secrets={}).sandbox_classic_retired_on == RETIRED
    env = {"MCA_SANDBOX_CLASSIC_RETIRED_ON": "2026-01-05"}
    assert load_settings(environ=env, secrets={}).sandbox_classic_retired_on == RETIRED
    env = {"MCA_SANDBOX_CLASSIC_RETIRED_ON": "never"}
    assert load_settings(environ=env, secrets={}).sandbox_classic_retired_on is None
    with pytest.raises(errors.ConfigurationError, match="sandbox_classic_retired_on"):
        load_settings(environ={"MCA_SANDBOX_CLASSIC_RETIRED_ON": "soon"}, secrets={})
    settings = load_settings(environ={}, secrets={})
    assert (settings.classic_retired_status, settings.classic_retired_code) == (400, 600098)
    assert optional_day("Never") is None and optional_day(" 2026-01-05 ") == RETIRED
    for bad in ("2026-1-5", "2026-02-30", "20260105"):
        with pytest.raises(ValueError):
            optional_day(bad)


def test_the_standalone_emulator_flag_parses_never_and_a_day(capsys):
    parser = standalone.build_parser()
    assert parser.parse_args([]).classic_retired_on == RETIRED  # production's day, by default
    assert parser.parse_args(["--classic-retired-on", "never"]).classic_retired_on is None
    args = parser.parse_args(
        [
            "--classic-retired-on",
            "2026-01-05",
            "--classic-refusal-status",
            "410",
            "--classic-refusal-code",
            "600099",
        ]
    )
    assert (args.classic_retired_on, args.classic_refusal_status, args.classic_refusal_code) == (
        RETIRED,
        410,
        600099,
    )
    for bad in (["--classic-retired-on", "tomorrow"], ["--classic-refusal-status", "200"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(bad)
        assert caught.value.code == 2
    assert "YYYY-MM-DD or never" in capsys.readouterr().err


def test_the_cli_emulator_command_takes_the_same_flags():
    parser = build_parser()
    args = parser.parse_args(["emulator"])
    assert args.classic_retired_on == RETIRED and args.classic_refusal_status is None
    args = parser.parse_args(
        ["emulator", "--classic-retired-on", "2026-01-05", "--classic-refusal-code", "600099"]
    )
    assert args.classic_retired_on == RETIRED and args.classic_refusal_code == 600099
    never = parser.parse_args(["emulator", "--classic-retired-on", "never"])
    assert never.classic_retired_on is None
    out = io.StringIO()
    with pytest.raises(SystemExit) as caught:  # a usage error, as argparse: exit 2
        main(["--json", "emulator", "--classic-retired-on", "someday"], out=out, err=io.StringIO())
    assert caught.value.code == 2 and json.loads(out.getvalue())["error"] == "usage"


def test_the_embedded_sandbox_refuses_as_production_unless_told_never(sandbox_env, monkeypatch):
    app = App.from_settings(load_settings())
    emu = app.desk.emulator
    assert emu.classic_retired_on == RETIRED
    assert (emu.classic_refusal_status, emu.classic_refusal_code) == (400, 600098)
    monkeypatch.setenv("MCA_SANDBOX_CLASSIC_RETIRED_ON", "never")
    assert App.from_settings(load_settings()).desk.emulator.classic_retired_on is None


def test_by_default_attest_creates_an_enhanced_link_and_classic_is_refused(sandbox_env):
    """Issue 13's "done when": `attest` with no channel flag creates an enhanced attestation and
    prints its link; `attest --channel classic` is refused naming the enhanced flow (exit 1)."""
    code, out, _ = run("--json", "customers")
    customer = json.loads(out)[0]["id"]
    signer = ("--first-name", "Wei", "--last-name", "Zhang", "--email", "wei.zhang@example.cn")
    code, out, err = run("attest", customer, *signer)
    assert code == 0, err
    assert "acceptance link" in out and "attestation id" in out
    code, out, err = run("--json", "attest", customer, *signer, "--date", "2026-11-20",
                             "--channel", "classic")  # fmt: skip
    assert code == 1
    doc = json.loads(out)
    assert "enhanced" in doc["message"] and "2026-01-05" in doc["message"]
    assert "Traceback" not in err


async def test_the_refusal_is_an_error_body_echoing_the_request_id(emulator):
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url="https://pc.test"
    ) as http:
        token = emulator.issue_token("admin-agent")
        page = await http.get("/v1/customers?size=1", headers={"Authorization": f"Bearer {token}"})
        customer = page.json()["items"][0]["id"]
        answer = await http.post(
            f"/v1/customers/{customer}/agreements",
            json=classic_body(),
            headers={"Authorization": f"Bearer {token}", "MS-RequestId": "rid-1"},
        )
    assert answer.status_code == 400 and answer.headers["MS-RequestId"] == "rid-1"
    assert set(answer.json()) >= {"code", "message", "description", "errorName", "isRetryable"}
