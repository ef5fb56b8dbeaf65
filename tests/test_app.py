"""The App, the core's one face: one attestation click makes only the requests it needs and
writes one audit row; pages and the home page import only the public face (import-linter cannot
see `pages/`, which is not a package)."""

from __future__ import annotations

import ast
from datetime import date, timedelta

import httpx
import pytest

import mca_core
from mca_core import App, AttestRequest, InvalidInput, load_settings

from .conftest import ROOT


class CountingTransport(httpx.AsyncBaseTransport):
    """The embedded emulator's transport, remembering every request that reached it."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.seen: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


@pytest.fixture
def counted(sandbox_env):
    app = App.from_settings(load_settings())
    transport = CountingTransport(app.backend.transport())
    app.backend.transport = lambda: transport  # type: ignore[method-assign]
    return app, transport


def _unaccepted(app: App, actor) -> str:
    for customer in app.list_customers(actor):
        if not app.status(actor, customer.id).accepted:
            return customer.id
    pytest.fail("the sandbox has no unaccepted customer")


def _request(customer: str, **kw) -> AttestRequest:
    return AttestRequest(
        customer=customer,
        first_name="Wei",
        last_name="Zhang",
        email="wei.zhang@example.cn",
        date_agreed=(date.today() - timedelta(days=2)).isoformat(),
        channel="classic",
        **kw,
    )


@pytest.mark.classic_tenant
def test_one_attestation_click_makes_only_the_requests_it_needs_and_one_audit_row(counted):
    app, transport = counted
    actor = app.sandbox_actor("admin-agent")
    first, second = [c.id for c in app.list_customers(actor)[:2]]
    found = app.verify(actor, first)
    transport.seen.clear()
    before = len(app.audit_events(actor.identity))

    outcome = app.attest(actor, _request(first))

    assert outcome.done and outcome.outcome == "attested"
    path = f"/v1/customers/{first}/agreements"
    # the MCA template is read once per process (cached), then the agreement is posted
    assert transport.seen == [("GET", "/v1/agreements"), ("POST", path)]
    rows = app.audit_events(actor.identity)
    assert len(rows) == before + 1 and rows[0].action == "attest"
    # the page shows the new state from the answer, without reading the customer again
    after = app.verified_after(found, actor, outcome)
    assert after.accepted and len(after.attestations) == len(found.attestations) + 1
    assert after.attestations[0].attested_by == actor.identity.display_name
    assert transport.seen == [("GET", "/v1/agreements"), ("POST", path)]

    transport.seen.clear()
    app.attest(actor, _request(second))
    assert transport.seen == [("POST", f"/v1/customers/{second}/agreements")]


@pytest.mark.classic_tenant
def test_an_unknown_customer_is_named_without_an_extra_request(counted):
    app, transport = counted
    actor = app.sandbox_actor("admin-agent")
    unknown = "00000000-0000-4000-8000-00000000dead"
    with pytest.raises(InvalidInput) as caught:
        app.attest(actor, _request(unknown))
    [problem] = caught.value.problems
    assert problem.code == "unknown_customer" and problem.field == "customer"
    assert [m for m, _ in transport.seen].count("POST") == 1
    assert app.audit_events(actor.identity)[0].outcome == "invalid"


@pytest.mark.classic_tenant
def test_the_attestation_written_through_shows_in_the_snapshot(counted):
    app, _ = counted
    actor = app.sandbox_actor("admin-agent")
    app.sync(actor)
    customer = _unaccepted(app, actor)
    app.attest(actor, _request(customer))
    snapshot = app.latest_snapshot(actor.identity)
    row = {r["customer_id"]: r for r in app.snapshot_rows(snapshot)}[customer]
    assert row["accepted"] is True and row["latest_contact_email"] == "wei.zhang@example.cn"


def _core_imports(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "mca_core"}


@pytest.mark.parametrize(
    "path",
    [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))],
    ids=lambda p: p.name,
)
def test_pages_import_only_the_public_face(path):
    assert _core_imports(path) <= {"mca_core"}


def test_the_public_face_exports_what_it_lists():
    missing = [name for name in mca_core.__all__ if not hasattr(mca_core, name)]
    assert missing == []
