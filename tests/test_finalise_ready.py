"""Finalise every ready attestation: `enhanced.finalise_ready`, `App.finalise_ready`, the CLI's
`finalise --all-ready`, and the `auto_finalise` setting on `App.refresh_links` and `App.sync`.
One audit row per finalise, never twice, and an error on one attestation stops no other."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import httpx
import pytest

from mca_core import App, AttestRequest
from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.domain import errors
from mca_core.domain.models import TokenKind
from mca_core.emulator import SANDBOX_USERS, Emulator
from mca_core.emulator import enhanced as emu_enhanced
from mca_core.partner_center.enhanced_wire import EnhancedWire
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore
from mca_core.usecases import enhanced

ADMIN = SANDBOX_USERS["admin-agent"].identity()
HELPDESK = SANDBOX_USERS["helpdesk-agent"].identity()
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return START


@pytest.fixture
def emulator(tmp_path) -> Emulator:
    return Emulator(tmp_path / "emulator", customers=30, seed=7, clock=clock)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


async def unattested(make_client, n: int) -> list[str]:
    pc = make_client("admin-agent")
    found = []
    for customer in await pc.list_customers():
        if not await pc.get_attestations(customer.id):
            found.append(customer.id)
        if len(found) == n:
            return found
    pytest.fail("the seed has too few unattested customers")


async def five_links(make_client, store, emulator, accepted: int = 3):
    """Five enhanced attestations; the first `accepted` customers accept theirs."""
    pc = make_client("admin-agent", kind=TokenKind.APP_ONLY)
    customers = await unattested(make_client, 5)
    records = []
    for i, customer in enumerate(customers):
        created = await enhanced.create_attestation(
            pc,
            store,
            ADMIN,
            customer=customer,
            first_name="Wei",
            last_name=f"Li{chr(65 + i)}",
            email=f"signer{i}@example.com",
            language="zh-CN",
            now=clock(),
        )
        records.append(created.attestation)
    for record in records[:accepted]:
        assert emu_enhanced.accept(emulator, record.attestation_id) == "accepted"
    return pc, customers, records


# --- the use case --------------------------------------------------------------------------------


async def test_finalise_ready_finalises_exactly_the_accepted_ones_once(
    make_client, store, emulator
):
    pc, customers, _ = await five_links(make_client, store, emulator)
    summary = await enhanced.finalise_ready(pc, store, ADMIN, now=clock())
    assert (summary.finalised, summary.not_ready, summary.failed) == (3, 2, 0)
    assert summary.refresh is not None and summary.refresh.status_read
    done = {i.customer_id for i in summary.items if i.outcome == "attested"}
    assert done == set(customers[:3])
    assert {i.customer_id for i in summary.items if i.outcome == "not_ready"} == set(customers[3:])
    finalise_rows = store.audit(action="finalise")
    assert sorted(e.customer_id for e in finalise_rows) == sorted(customers[:3])
    assert {e.outcome for e in finalise_rows} == {"attested"}
    user_pc = make_client("admin-agent")
    for customer in customers[:3]:
        assert len(await user_pc.get_attestations(customer)) == 1

    again = await enhanced.finalise_ready(pc, store, ADMIN, now=clock())
    assert (again.finalised, again.not_ready, again.failed) == (0, 2, 0)
    assert len(store.audit(action="finalise")) == 3  # nothing finalised twice
    for customer in customers[:3]:
        assert len(await user_pc.get_attestations(customer)) == 1
    doc = again.as_dict()
    assert set(doc) == {"finalised", "not_ready", "failed", "status_read", "probed", "items"}


class FailFinaliseFor(httpx.AsyncBaseTransport):
    """Answers 500 to the finalise of one customer; everything else passes."""

    def __init__(self, inner: httpx.AsyncBaseTransport, customer_id: str):
        self.inner, self.customer_id = inner, customer_id

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == (
            f"/v1/customers/{self.customer_id}/agreements"
        ):
            return httpx.Response(500, json={"code": 500, "message": "boom"}, request=request)
        return await self.inner.handle_async_request(request)


async def test_an_error_on_one_attestation_does_not_stop_the_others(make_client, store, emulator):
    _, customers, _ = await five_links(make_client, store, emulator)
    broken = FailFinaliseFor(emulator.transport(), customers[1])
    pc = make_client(kind=TokenKind.APP_ONLY, transport=broken, retry=RetryPolicy(max_attempts=1))
    summary = await enhanced.finalise_ready(pc, store, ADMIN, now=clock())
    assert (summary.finalised, summary.not_ready, summary.failed) == (2, 2, 1)
    [failed] = [i for i in summary.items if i.outcome == "failed"]
    assert failed.customer_id == customers[1] and "ServiceUnavailable" in failed.message
    outcomes = {e.customer_id: e.outcome for e in store.audit(action="finalise")}
    assert outcomes == {customers[0]: "attested", customers[1]: "failed", customers[2]: "attested"}

    # The failed one is still ready: the next run finalises it, and only it.
    pc = make_client(kind=TokenKind.APP_ONLY)
    again = await enhanced.finalise_ready(pc, store, ADMIN, now=clock())
    assert (again.finalised, again.failed) == (1, 0)
    assert [i.customer_id for i in again.items if i.outcome == "attested"] == [customers[1]]


async def test_without_a_status_read_the_pending_links_are_tried(make_client, store, emulator):
    wire = EnhancedWire.with_overrides({"status_path": ""})
    pc, customers, _ = await five_links(make_client, store, emulator)
    summary = await enhanced.finalise_ready(pc, store, ADMIN, wire=wire, now=clock())
    assert summary.probed and not summary.refresh.status_read
    assert (summary.finalised, summary.not_ready, summary.failed) == (3, 2, 0)
    assert {i.outcome for i in summary.items if i.customer_id in customers[3:]} == {"not_accepted"}
    kept = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, customers[4])
    assert kept[0].state is AttestationState.LINK_SENT  # kept for later
    quiet = await enhanced.finalise_ready(
        pc, store, ADMIN, wire=wire, now=clock(), probe_without_status_read=False
    )
    assert quiet.finalised == 0 and not quiet.probed


async def test_a_helpdesk_agent_is_refused_once_and_audited(make_client, store, emulator):
    await five_links(make_client, store, emulator)
    pc = make_client("helpdesk-agent", kind=TokenKind.APP_ONLY)
    with pytest.raises(errors.AccessRefused):
        await enhanced.finalise_ready(pc, store, HELPDESK, now=clock())
    [event] = store.audit(action="finalise")
    assert event.outcome == "refused" and event.user_id == HELPDESK.user_id
    assert pc.stats.calls == 0


async def test_an_app_user_token_is_refused(make_client, store, emulator):
    pc = make_client("admin-agent")
    with pytest.raises(enhanced.AppOnlyRequired):
        await enhanced.finalise_ready(pc, store, ADMIN, now=clock())
    assert pc.stats.calls == 0


# --- the command line ----------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def desk_store() -> Store:
    return Store(load_settings().resolved_store_url)


def test_cli_finalise_all_ready(sandbox_env):
    customers = [c["id"] for c in json.loads(run("--json", "customers")[1])]
    created = []
    for i, customer in enumerate(customers[10:15]):
        code, out, err = run(
            "--json", "attest", customer, "--first-name", "Mei",
            "--last-name", f"Chen{chr(65 + i)}", "--email", f"mei{i}@example.com",
            "--channel", "enhanced",
        )  # fmt: skip
        assert code == 0, err
        created.append(json.loads(out))
    ready = created[:3]
    for doc in ready:
        assert run("sandbox-accept", doc["attestation_id"])[0] == 0

    code, out, err = run("--json", "finalise", "--all-ready")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["finalised"], doc["not_ready"], doc["failed"]) == (3, 2, 0)
    assert {i["customer_id"] for i in doc["items"] if i["outcome"] == "attested"} == {
        d["customer_id"] for d in ready
    }
    store = desk_store()
    rows = store.audit(action="finalise")
    assert sorted(e.customer_id for e in rows) == sorted(d["customer_id"] for d in ready)
    assert {e.outcome for e in rows} == {"attested"}

    code, out, err = run("finalise", "--all-ready")
    assert code == 0, err
    assert out.startswith("0 finalised, 2 not ready, 0 failed")
    assert len(store.audit(action="finalise")) == 3
    for d in ready:
        assert json.loads(run("--json", "status", d["customer_id"])[1])["accepted"] is True
    store.dispose()


@pytest.mark.parametrize(
    "argv",
    [["finalise"], ["finalise", "some-customer", "--all-ready"]],
)
def test_cli_finalise_needs_exactly_one_of_customer_and_all_ready(sandbox_env, argv):
    out = io.StringIO()
    with pytest.raises(SystemExit) as caught:
        main(["--json", *argv], out=out, err=io.StringIO())
    assert caught.value.code == 2
    doc = json.loads(out.getvalue())
    assert doc["error"] == "usage" and "--all-ready" in doc["message"]


def test_cli_all_ready_with_an_attestation_id_is_invalid(sandbox_env):
    code, out, _ = run("--json", "finalise", "--all-ready", "--attestation-id", "x")
    assert code == 2 and json.loads(out)["problems"][0]["field"] == "--attestation-id"


def test_cli_all_ready_refused_for_a_helpdesk_agent(sandbox_env):
    code, _, err = run("--as", "helpdesk-agent", "finalise", "--all-ready")
    assert code == 3, err


# --- the App: finalise_ready, auto_finalise ----------------------------------------------------


def _link(app: App, actor, customer: str, accept: bool = True):
    outcome = app.attest(
        actor,
        AttestRequest(
            customer=customer,
            first_name="Wei",
            last_name="Li",
            email="li.wei@example.com",
            language="en-US",
            channel="enhanced",
        ),
    )
    record = outcome.enhanced.attestation
    if accept:
        assert app.play_customer_accepts(record.attestation_id) == "accepted"
    return record


def _state(app: App, customer: str) -> AttestationState:
    return app.customer_attestations(app.sandbox_actor().identity, customer)[0].state


def test_app_finalise_ready_writes_each_agreement_through(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    assert run("sync")[0] == 0
    snapshot = app.latest_snapshot(actor.identity)
    blocked = [r["customer_id"] for r in app.snapshot_rows(snapshot) if r["accepted"] is False]
    _link(app, actor, blocked[0])
    _link(app, actor, blocked[1], accept=False)
    summary = app.finalise_ready(actor)
    assert (summary.finalised, summary.not_ready, summary.failed) == (1, 1, 0)
    rows = {r["customer_id"]: r for r in app.snapshot_rows(app.latest_snapshot(actor.identity))}
    assert rows[blocked[0]]["accepted"] is True and rows[blocked[0]]["written_through_at"]
    assert rows[blocked[1]]["accepted"] is False


def test_auto_finalise_on_a_refresh_finalises_an_accepted_one(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "true")
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    customers = [c.id for c in app.list_customers(actor)]
    _link(app, actor, customers[8])
    _link(app, actor, customers[9], accept=False)
    summary = app.refresh_links(actor)
    assert summary.finalised == 1
    assert _state(app, customers[8]) is AttestationState.AGREEMENT_CREATED
    assert _state(app, customers[9]) is AttestationState.LINK_SENT
    [event] = app.audit_events(actor.identity, action="finalise")
    assert event.outcome == "attested" and event.customer_id == customers[8]
    assert app.refresh_links(actor).finalised == 0  # never twice
    assert len(app.audit_events(actor.identity, action="finalise")) == 1
    # A helpdesk agent may refresh, never finalise: nothing is finalised for it.
    _link(app, actor, customers[10])
    helpdesk = app.sandbox_actor("helpdesk-agent")
    assert app.refresh_links(helpdesk).finalised == 0
    assert _state(app, customers[10]) is AttestationState.ACCEPTED


def test_auto_finalise_off_leaves_an_accepted_one_ready(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "false")
    app = App.from_settings(load_settings())
    assert app.settings.auto_finalise is False
    actor = app.sandbox_actor("admin-agent")
    customer = app.list_customers(actor)[8].id
    _link(app, actor, customer)
    summary = app.refresh_links(actor)
    assert summary.finalised == 0 and summary.changed == 1
    assert _state(app, customer) is AttestationState.ACCEPTED
    assert app.audit_events(actor.identity, action="finalise") == []
    app.sync(actor)
    assert _state(app, customer) is AttestationState.ACCEPTED


def test_auto_finalise_before_a_sync(sandbox_env, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "true")
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    assert app.sync(actor).failed == 0  # nothing to finalise: no App-only token, no call
    snapshot = app.latest_snapshot(actor.identity)
    blocked = [r["customer_id"] for r in app.snapshot_rows(snapshot) if r["accepted"] is False]
    _link(app, actor, blocked[0])
    summary = app.sync(actor)
    assert summary.failed == 0 and summary.finalised == 1  # the sync says what it did first
    assert _state(app, blocked[0]) is AttestationState.AGREEMENT_CREATED
    rows = {r["customer_id"]: r for r in app.snapshot_rows(app.latest_snapshot(actor.identity))}
    assert rows[blocked[0]]["accepted"] is True  # read by the sync itself
    [event] = app.audit_events(actor.identity, action="finalise")
    assert event.outcome == "attested"


def test_the_setting_reads_the_environment():
    assert load_settings(environ={}, secrets={}).auto_finalise is True  # the default
    assert not load_settings(environ={"MCA_AUTO_FINALISE": "false"}, secrets={}).auto_finalise
    with pytest.raises(errors.ConfigurationError, match="auto_finalise"):
        load_settings(environ={"MCA_AUTO_FINALISE": "maybe"}, secrets={})
