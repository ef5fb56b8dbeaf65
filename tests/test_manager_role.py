"""The read-only Manager: mapped from `[mca.roles] managers` in live mode, seeded as the sandbox
user `manager`; sees the Overview, Verify, reports, the follow-up list and the alert settings,
and is refused (naming its role and who to ask) every action that changes anything."""

from __future__ import annotations

import tomllib
import uuid
from datetime import date
from types import SimpleNamespace

import jwt
import pytest
from streamlit.testing.v1 import AppTest

from mca_core import (
    AccessRefused,
    App,
    AttestRequest,
    BulkAttestRequest,
    ExistingCustomerInvitation,
    NewCustomerInvitation,
    NewCustomerRequest,
    ProviderRequest,
    RelationshipInvitation,
    Role,
    SyncRequest,
    access,
    load_settings,
)
from mca_core.auth.providers import identity_from_claims
from mca_core.backends import LiveBackend
from mca_core.config import flatten_mca_table
from mca_core.domain.models import Address, Contact, NewCustomer, PartnerType
from mca_core.emulator import SANDBOX_USERS, Emulator
from mca_core.emulator.directory import CONTOSO_TENANT_ID, HELPDESK_AGENTS, group_id
from mca_core.emulator.tokens import verify as verify_token
from mca_core.store.database import Store
from mca_core.usecases.bulk import BulkRow
from ui import i18n

from .apptest import cli, open_page, run, texts
from .conftest import ROOT

ADMIN, SALES, HELPDESK, MANAGERS = "g-admin", "g-sales", "g-helpdesk", "g-managers"
ROLES = {
    "admin_agent_groups": [ADMIN],
    "sales_agent_groups": [SALES],
    "helpdesk_agent_groups": [HELPDESK],
}
CUSTOMER = "contoso.onmicrosoft.com"


def live_settings(**roles):
    """Settings as secrets.toml's [mca.roles] table gives them (flattened like the file)."""
    table = {"backend": "live", "roles": {**ROLES, "managers": [MANAGERS], **roles}}
    return load_settings(secrets=flatten_mca_table(table), environ={})


# --- live mode: the groups claim ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        ([MANAGERS], Role.MANAGER),  # a manager in no agent group
        ([MANAGERS, ADMIN], Role.ADMIN_AGENT),  # agents keep everything a manager may do
        ([ADMIN, MANAGERS], Role.ADMIN_AGENT),
        ([MANAGERS, SALES], Role.SALES_AGENT),
        ([MANAGERS, HELPDESK], Role.MANAGER),  # a Helpdesk agent who manages is a Manager
        ([HELPDESK, MANAGERS.upper()], Role.MANAGER),  # group ids compare without case
        ([HELPDESK], Role.HELPDESK_AGENT),
        (["unmapped"], Role.NONE),
    ],
)
def test_the_groups_claim_maps_to_the_manager(groups, role):
    settings = live_settings()
    claims = {"oid": "u-1", "name": "Nestor Wilke", "tid": "t-1", "groups": groups}
    by_claims = identity_from_claims(
        claims, group_roles=settings.group_roles, partner_type=PartnerType.DIRECT_BILL
    )
    by_backend = LiveBackend(settings).identity(claims)  # the dashboard's and CLI's live path
    assert by_claims.role is role and by_claims.role_known
    assert by_backend.role is role and by_backend.role_known


def test_a_group_listed_as_agents_and_managers_takes_the_stronger_role():
    assert live_settings(managers=[HELPDESK]).group_roles[HELPDESK] is Role.MANAGER
    assert live_settings(managers=[ADMIN]).group_roles[ADMIN] is Role.ADMIN_AGENT
    assert live_settings(managers=[SALES]).group_roles[SALES] is Role.SALES_AGENT


def test_managers_from_the_environment_and_the_example_secrets():
    env = load_settings(secrets={}, environ={"MCA_MANAGER_GROUPS": "m-1, M-2"})
    assert env.manager_groups == ["m-1", "M-2"]
    assert env.group_roles == {"m-1": Role.MANAGER, "m-2": Role.MANAGER}
    with (ROOT / ".streamlit" / "secrets.toml.example").open("rb") as handle:
        roles = tomllib.load(handle)["mca"]["roles"]
    assert roles["managers"]
    example = load_settings(secrets=flatten_mca_table({"roles": roles}), environ={})
    assert example.manager_groups == roles["managers"]
    assert {example.group_roles[g.lower()] for g in roles["managers"]} == {Role.MANAGER}


# --- the sandbox user ------------------------------------------------------------------------


def test_the_sandbox_manager_reads_as_a_helpdesk_agent_in_partner_center(tmp_path):
    user = SANDBOX_USERS["manager"]
    admin = SANDBOX_USERS["admin-agent"]
    assert (user.display_name, user.role) == ("Nestor Wilke", Role.MANAGER)
    assert user.partner_tenant_id == admin.partner_tenant_id == CONTOSO_TENANT_ID
    assert user.groups == (group_id(CONTOSO_TENANT_ID, HELPDESK_AGENTS),)
    identity = user.identity()
    assert identity.role is Role.MANAGER and identity.role_known
    emulator = Emulator(tmp_path / "emulator", customers=5, seed=7)
    try:
        token = emulator.issue_token("manager")
        caller = verify_token(emulator.store.signing_key(), token, emulator.now())
    finally:
        emulator.close()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["name"] == "Nestor Wilke" and claims["groups"] == list(user.groups)
    assert caller.role is Role.HELPDESK_AGENT  # Partner Center lets it read, nothing more


def test_the_manager_signs_in_to_the_sandbox(sandbox_env):
    app = App.from_settings(load_settings())
    assert "manager" in app.sandbox_users()
    actor = app.sandbox_actor("manager")
    assert actor.identity.role is Role.MANAGER
    assert actor.identity.partner_tenant_id == CONTOSO_TENANT_ID
    assert app.snapshot_scope(actor.identity) == app.snapshot_scope(
        app.sandbox_actor("admin-agent").identity
    )  # it reads the snapshots its partner's agents sync
    assert app.open_sandbox_on_data(actor) is None  # never syncs, not even the first time


# --- access ----------------------------------------------------------------------------------

MANAGER = SANDBOX_USERS["manager"].identity()


def test_what_a_manager_may_see():
    for rule in (
        access.check_signed_in,
        access.check_may_verify,
        access.check_may_view_follow_up,
        access.check_may_view_alerts,
    ):
        rule(MANAGER)


@pytest.mark.parametrize(
    "rule",
    [
        access.check_may_sync,
        access.check_may_refresh_links,
        access.check_may_attest,
        access.check_may_create_customer,
        access.check_may_invite_to_accept,
        access.check_may_send_invitations,
        access.check_may_request_relationship,
        access.check_may_request_from_provider,
        access.check_may_view_audit,
    ],
)
def test_what_a_manager_is_refused_names_the_role_and_who_to_ask(rule):
    with pytest.raises(AccessRefused) as refused:
        rule(MANAGER)
    assert "Manager" in refused.value.reason
    assert "agent" in refused.value.fix.lower()
    reseller_manager = MANAGER.model_copy(update={"partner_type": PartnerType.INDIRECT_RESELLER})
    with pytest.raises(AccessRefused) as refused:
        rule(reseller_manager)
    assert "Manager" in refused.value.reason


def test_agents_keep_what_they_had():
    helpdesk = SANDBOX_USERS["helpdesk-agent"].identity()
    access.check_may_sync(helpdesk)
    access.check_may_refresh_links(helpdesk)
    access.check_may_invite_to_accept(helpdesk)
    access.check_may_send_invitations(helpdesk)
    reseller = SANDBOX_USERS["indirect-reseller"].identity()
    access.check_may_request_from_provider(reseller)
    nobody = helpdesk.model_copy(update={"role": Role.NONE})
    with pytest.raises(AccessRefused):
        access.check_may_verify(nobody)


def test_the_read_only_refusal_in_chinese():
    with pytest.raises(AccessRefused) as refused:
        access.check_may_sync(MANAGER)
    assert refused.value.code == "manager_read_only"
    assert i18n.refusal_text(refused.value, "en") == f"{refused.value.reason} {refused.value.fix}"
    assert "经理" in i18n.refusal_text(refused.value, "zh-CN")
    assert i18n.role_label(Role.MANAGER, "zh-CN") == "经理"
    assert i18n.role_label(Role.MANAGER, "en") == "Manager"


# --- the App refuses what the pages do not offer -------------------------------------------------


@pytest.fixture
def manager_app(sandbox_env):
    app = App.from_settings(load_settings())
    return app, app.sandbox_actor("manager")


def _calls():
    day = date(2025, 11, 20).isoformat()
    contact = Contact(first_name="Jane", last_name="Doe", email="jane@contoso.com")
    new = NewCustomer(
        company_name="Managed Ltd",
        domain_prefix="managed",
        email="it@managed.example",
        address=Address(
            first_name="Jane", last_name="Doe", address_line1="1 Main St", city="Redmond",
            country="US",
        ),
    )  # fmt: skip
    row = BulkRow(
        line=2, customer=CUSTOMER, first_name="Jane", last_name="Doe", email="jane@contoso.com",
        phone="", date_agreed=day,
    )  # fmt: skip

    def attest(channel):
        return lambda app, actor: app.attest(
            actor,
            AttestRequest(
                customer=CUSTOMER, first_name="Jane", last_name="Doe", email="jane@contoso.com",
                date_agreed=day, channel=channel, company_name="Contoso", country="US",
            ),
        )  # fmt: skip

    return {
        "attest_classic": attest("classic"),
        "attest_enhanced": attest("enhanced"),
        "sync": lambda app, actor: app.sync(actor),
        "start_sync": lambda app, actor: app.start_sync(actor, SyncRequest()),
        "invite_existing": lambda app, actor: app.invite(
            actor, ExistingCustomerInvitation(customer=CUSTOMER, to="it@contoso.com")
        ),
        "invite_new": lambda app, actor: app.invite(
            actor, NewCustomerInvitation(customer=CUSTOMER, user_name="admin", password="Pa55!")
        ),
        "relationship_request": lambda app, actor: app.invite(actor, RelationshipInvitation()),
        "provider_request": lambda app, actor: app.invite(
            actor, ProviderRequest(customer=CUSTOMER)
        ),
        "create_customer": lambda app, actor: app.create_customer(
            actor,
            NewCustomerRequest(
                customer=new,
                attestation=(contact, date(2025, 11, 20)),
                create_request_id=str(uuid.uuid4()),
                attest_request_id=str(uuid.uuid4()),
            ),
        ),
        "bulk_attest": lambda app, actor: app.bulk_attest(actor, BulkAttestRequest(rows=[row])),
        "bulk_attest_dry_run": lambda app, actor: app.bulk_attest(
            actor, BulkAttestRequest(rows=[row], dry_run=True)
        ),
        "finalise": lambda app, actor: app.finalise(actor, CUSTOMER),
        "finalise_ready": lambda app, actor: app.finalise_ready(actor),
        "start_finalise_ready": lambda app, actor: app.start_finalise_ready(actor),
        "refresh_links": lambda app, actor: app.refresh_links(actor),
    }


@pytest.mark.parametrize("call", list(_calls()))
def test_the_app_refuses_the_manager(manager_app, call):
    app, actor = manager_app
    with pytest.raises(AccessRefused) as refused:
        _calls()[call](app, actor)
    assert "Manager" in refused.value.reason
    assert app.sync_job(actor.identity) is None  # no job was started for it
    assert app.latest_snapshot(actor.identity) is None  # nothing was written


def test_the_manager_verifies_a_customer(sandbox_env):
    assert cli("sync") == 0  # the admin agent's sync: the manager reads the same snapshot
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("manager")
    snapshot = app.latest_snapshot(actor.identity)
    assert snapshot is not None
    rows = app.snapshot_rows(snapshot)
    blocked = next(r["customer_id"] for r in rows if r["accepted"] is False)
    found = app.verify(actor, blocked)
    assert found.customer.id == blocked and not found.accepted
    assert found.next_step == "ask_agent"
    assert "Ask an Admin agent or a Sales agent" in found.next_step_text
    accepted = next(r["customer_id"] for r in rows if r["accepted"] is True)
    assert app.verify(actor, accepted).next_step == "none"
    events = Store(load_settings().resolved_store_url).audit(action="verify")
    assert {e.user_id for e in events} == {actor.identity.user_id}
    assert {e.role for e in events} == {Role.MANAGER.value}


# --- the pages ---------------------------------------------------------------------------------

OVERVIEW = str(ROOT / "pages" / "1_Overview.py")
ATTEST = str(ROOT / "pages" / "2_Attest.py")
VERIFY = str(ROOT / "pages" / "3_Verify.py")
INVITATIONS = str(ROOT / "pages" / "4_Invitations.py")
AUDIT = str(ROOT / "pages" / "5_Audit.py")
HOME = str(ROOT / "dashboard.py")


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


@pytest.fixture
def synced(sandbox_env):
    assert cli("sync") == 0
    return sandbox_env


def test_the_overview_without_the_refresh_button(synced):
    at = run(open_page(OVERVIEW, "manager"))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers"] == "40"
    assert "Refresh from Partner Center" not in labels(at)
    assert "Finalise every ready attestation" not in texts(at)
    assert any("Read-only (Manager)" in c.value for c in at.caption)
    downloads = [b.label for b in at.get("download_button")]
    assert downloads  # the reports: CSV and Excel of the table
    admin = run(open_page(OVERVIEW, "admin-agent"))
    assert "Refresh from Partner Center" in labels(admin)


def test_the_overview_table_offers_a_manager_verify_only(synced, monkeypatch):
    """A selected row offers Verify, not Attest or Invite (AppTest cannot click a table's row:
    the table reports its first row selected)."""
    import streamlit

    draw = streamlit.dataframe

    def selected(*args, key=None, **kwargs):
        shown = draw(*args, key=key, **kwargs)
        if key != "ov_table":
            return shown
        return SimpleNamespace(selection=SimpleNamespace(rows=[0]))

    monkeypatch.setattr(streamlit, "dataframe", selected)
    manager = labels(run(open_page(OVERVIEW, "manager")))
    assert "Verify" in manager and "Attest" not in manager and "Invite" not in manager
    at = run(open_page(OVERVIEW, "manager"))
    assert any("to attest or invite, ask an Admin agent" in c.value for c in at.caption)
    admin = labels(run(open_page(OVERVIEW, "admin-agent")))
    assert {"Verify", "Attest", "Invite"} <= set(admin)


def test_an_empty_overview_offers_a_manager_no_sync(sandbox_env):
    at = run(open_page(OVERVIEW, "manager"))
    assert "No acceptance data yet" in at.info[0].value
    assert not any(label.startswith("Sync now") for label in labels(at))
    assert any("ask an Admin, Sales or Helpdesk agent" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "Your role (Manager) may not attest"), ("zh-CN", "您的角色无权证明")],
)
def test_the_attest_page_refuses_the_manager(sandbox_env, lang, words):
    at = open_page(ATTEST, "manager")
    at.session_state["ui_language"] = lang
    run(at)
    assert words in at.error[0].value
    assert not at.text_input and not at.get("tab")


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "Your role (Manager) is read-only on the desk: it may not write invitations"),
        ("zh-CN", "您的角色（经理）在本工作台上为只读"),
    ],
)
def test_the_invitations_page_refuses_the_manager(sandbox_env, lang, words):
    at = open_page(INVITATIONS, "manager")
    at.session_state["ui_language"] = lang
    run(at)
    assert words in at.error[0].value
    assert i18n.message("guard_refused", lang) in at.error[0].value
    assert not at.tabs and not at.text_input


def test_the_audit_page_refuses_the_manager(sandbox_env):
    at = run(open_page(AUDIT, "manager"))
    assert "Your role (Manager) may not read the audit log" in at.error[0].value


def test_the_verify_page_tells_the_manager_whom_to_ask(synced):
    store = Store(load_settings().resolved_store_url)
    rows = store.snapshot_rows(store.latest_snapshot().id)
    blocked = next(r["customer_id"] for r in rows if r["accepted"] is False)
    at = run(open_page(VERIFY, "manager", customer=blocked))
    page = texts(at)
    assert "Ask an Admin agent or a Sales agent to attest for the customer" in page
    assert "Attest for this customer" not in page
    assert "Send an invitation to accept" not in page
    assert not at.get("page_link") or all(
        "Invitations" not in str(p.proto) and "Attest" not in str(p.proto)
        for p in at.get("page_link")
    )


def test_the_home_page_offers_the_manager_with_a_translated_label(sandbox_env):
    at = run(AppTest.from_file(HOME, default_timeout=60))
    assert "Nestor Wilke — Manager, Direct-bill partner (Contoso Cloud Solutions)" in (
        at.radio[0].options
    )
    at.radio[0].set_value("manager")
    run(next(b for b in at.button if b.label == "Sign in").click())
    assert at.session_state["sandbox_user_key"] == "manager"
    page = texts(at)
    assert "Nestor Wilke" in page and "Manager" in page
    assert any("As a Manager you read" in i.value for i in at.info)  # what there is to read
    assert not at.warning
    chinese = AppTest.from_file(HOME, default_timeout=60)
    chinese.session_state["ui_language"] = "zh-CN"
    run(chinese)
    assert any(o.startswith("Nestor Wilke — 经理") for o in chinese.radio[0].options)


def test_the_sidebar_does_not_offer_a_manager_the_pages_it_refuses(sandbox_env):
    from tests.apptest import open_page
    from tests.conftest import ROOT

    def sidebar_links(user: str) -> list[str]:
        # AppTest runs one page: nav.page_link falls back to Markdown links ("[icon title](/X)")
        at = run(open_page(str(ROOT / "pages" / "3_Verify.py"), user))
        return [m.value for m in at.sidebar.markdown if "](/" in m.value]

    manager = " ".join(sidebar_links("manager"))
    assert "Overview" in manager and "Follow_up" in manager and "Alerts" in manager
    assert "Attest" not in manager and "Invitations" not in manager and "Audit" not in manager
    agent = " ".join(sidebar_links("admin-agent"))
    assert "Attest" in agent and "Invitations" in agent and "Audit" in agent
