"""The invitation log and sending invitations from the desk: what arrives at a real SMTP
server (recipient, subject, language, link, a new customer's password in the sent message
only), the rows recorded (generated / sent / send_failed), rate limiting with an injected
clock, a refusing server that fails one message and not the others, the store's queries on
SQLite and PostgreSQL, and `invite ... --send` on the command line."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mca_core import (
    AccessRefused,
    App,
    ConfigurationError,
    ExistingCustomerInvitation,
    NewCustomerInvitation,
    Pacer,
    load_settings,
    metrics,
)
from mca_core.cli.main import EXIT_FAILED, EXIT_INVALID, EXIT_OK, main
from mca_core.domain.models import MCA_ACCEPTANCE_URL
from mca_core.store.database import Store
from mca_core.store.invitation_log import InvitationEntry, InvitationLog

PASSWORD = "Tmp#Se7nd-Qz!x"
INVITATIONS_PAGE = str(Path(__file__).resolve().parent.parent / "pages/4_Invitations.py")


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def fast_pacer(per_minute: float = 6000) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(per_minute, clock=clock, sleep=clock.sleep), clock


def all_files(folder) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def desk(sandbox_env, smtp_server, monkeypatch):
    """A synced sandbox whose SMTP settings point at the real test server."""
    return synced_desk(smtp_server, monkeypatch)


def synced_desk(smtp_server, monkeypatch):
    """(app, admin agent, blocked rows, accepted rows) of a synced sandbox sending to
    `smtp_server` (the sandbox_env fixture set up first)."""
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_DELIVERY_BACKOFF_SECONDS", "0")
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    app.sync(actor)
    snapshot = app.latest_snapshot(actor.identity)
    assert snapshot is not None
    rows = app.snapshot_rows(snapshot)
    blocked = [r for r in rows if metrics.row_blocked(r, app.current_since)]
    accepted = [r for r in rows if r["accepted"] and not metrics.row_blocked(r)]
    assert len(blocked) >= 3 and accepted
    return app, actor, blocked, accepted


def log_rows(app: App, actor) -> list[InvitationEntry]:
    return InvitationLog(app.desk.store).entries(actor.identity.partner_tenant_id)


# --- the store ------------------------------------------------------------------------------


def _entry(customer: str, at: datetime, how: str = "generated", partner: str = "p1", **kw):
    return InvitationEntry(
        partner_tenant_id=partner,
        customer_id=customer,
        kind=kw.pop("kind", "mca_existing"),
        how=how,
        at=at,
        recipient=kw.pop("recipient", f"it@{customer}.example"),
        locale="en",
        user_id="u1",
        user_name="Megan",
        **kw,
    )


def _exercise_store(store: Store) -> None:
    log = InvitationLog(store)
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert log.version("p1") == 0 and log.latest_by_customer("p1") == {}
    # written out of order: the newest by time wins, not the newest row
    log.add(_entry("a", base + timedelta(days=2)))
    log.add(_entry("a", base))
    log.add(_entry("a", base + timedelta(days=3), how="send_failed", failure="550"))
    log.add(_entry("b", base + timedelta(days=1), how="sent", message_id="<m@x>"))
    log.add(_entry("c", base, partner="p2"))
    latest = log.latest_by_customer("p1")
    assert set(latest) == {"a", "b"}
    assert latest["a"].at == base + timedelta(days=2) and latest["a"].how == "generated"
    assert latest["b"].message_id == "<m@x>" and latest["b"].at.tzinfo is not None
    assert set(log.latest_by_customer("p1", ["b", "zzz"])) == {"b"}
    assert log.version("p1") == 4 and log.version("p2") == 5
    assert [e.how for e in log.entries("p1", customer_id="a")] == [
        "send_failed",
        "generated",
        "generated",
    ]


def test_the_log_on_sqlite(tmp_path):
    _exercise_store(Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}"))


def test_the_log_on_postgresql(postgres_url):
    store = Store(postgres_url)
    InvitationLog(store)
    with store.engine.begin() as conn:  # the cluster is shared by the run
        conn.exec_driver_sql("DELETE FROM invitation_log WHERE partner_tenant_id IN ('p1','p2')")
    _exercise_store(store)


def test_latest_invitations_are_one_query_per_version(tmp_path, monkeypatch):
    from mca_core.domain.models import Identity, PartnerType, Role
    from mca_core.usecases import invitation_records

    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    who = Identity(
        user_id="u1",
        display_name="Megan",
        role=Role.ADMIN_AGENT,
        partner_type=PartnerType.DIRECT_BILL,
        partner_tenant_id="p1",
    )
    InvitationLog(store).add(_entry("a", datetime.now(UTC)))
    calls = []
    real = InvitationLog.latest_by_customer
    monkeypatch.setattr(
        InvitationLog,
        "latest_by_customer",
        lambda self, *a, **k: calls.append(1) or real(self, *a, **k),
    )
    first = invitation_records.latest_invitations(store, who)
    again = invitation_records.latest_invitations(store, who)
    assert first is again and len(calls) == 1 and set(first) == {"a"}
    InvitationLog(store).add(_entry("b", datetime.now(UTC)))
    assert set(invitation_records.latest_invitations(store, who)) == {"a", "b"}
    assert len(calls) == 2


# --- generating records ---------------------------------------------------------------------


def test_generating_records_who_when_and_to_whom(desk):
    app, actor, blocked, _ = desk
    customer = blocked[0]
    email = app.invite(
        actor,
        ExistingCustomerInvitation(
            customer=customer["customer_id"], to="it@x.example", locale="zh-CN"
        ),
    )
    [row] = log_rows(app, actor)
    assert (row.customer_id, row.kind, row.how) == (
        customer["customer_id"],
        "mca_existing",
        "generated",
    )
    assert row.recipient == "it@x.example" and row.locale == "zh-CN"
    assert row.company_name == customer["company_name"] == email.company_name
    assert row.user_id == actor.identity.user_id and row.user_name == actor.identity.display_name
    assert app.latest_invitations(actor.identity)[customer["customer_id"]].id == row.id


# --- sending --------------------------------------------------------------------------------


def test_sending_delivers_each_email_and_records_it(desk, smtp_server):
    app, actor, blocked, _ = desk
    emails = [
        app.invite(
            actor,
            ExistingCustomerInvitation(
                customer=row["customer_id"], to=f"admin{i}@customer{i}.example", locale=locale
            ),
        )
        for i, (row, locale) in enumerate(zip(blocked[:2], ("en", "zh-CN"), strict=True))
    ]
    pacer, _ = fast_pacer()
    seen: list[tuple[int, int]] = []
    results = app.send_invitations(
        actor, emails, pacer=pacer, progress=lambda done, total, _label: seen.append((done, total))
    )
    assert [r.sent for r in results] == [True, True] and seen[-1] == (2, 2)
    received = smtp_server.messages
    assert [m.rcpt_tos for m in received] == [
        ["admin0@customer0.example"],
        ["admin1@customer1.example"],
    ]
    for message, email in zip(received, emails, strict=True):
        assert " ".join(str(message["Subject"]).split()) == " ".join(email.subject.split())
        assert message["From"] == "mca-desk@contoso.example"
        assert MCA_ACCEPTANCE_URL in message.text and MCA_ACCEPTANCE_URL in message.html
        assert "X-Unsent" not in message.message
    assert 'lang="zh-CN"' in received[1].html or "客户协议" in received[1].text
    rows = [r for r in log_rows(app, actor) if r.how == "sent"]
    assert {r.message_id for r in rows} == {r.message_id for r in results}
    assert all(r.message_id for r in rows)
    audit = app.audit_events(actor.identity, action="send_invitation")
    assert [e.outcome for e in audit] == ["sent", "sent"]
    assert audit[0].inputs["recipient_domain"].startswith("customer")


def test_a_new_customers_password_is_in_the_sent_message_only(desk, smtp_server, sandbox_env):
    app, actor, blocked, _ = desk
    email = app.invite(
        actor,
        NewCustomerInvitation(
            customer=blocked[0]["customer_id"],
            user_name="admin",
            password=PASSWORD,
            to="first.admin@new.example",
        ),
    )
    result = app.send_invitation(actor, email, pacer=fast_pacer()[0])
    assert result.sent and result.email.password is None
    [message] = smtp_server.messages
    assert PASSWORD in message.text and PASSWORD in message.html
    assert PASSWORD.encode() not in all_files(sandbox_env / "data")
    assert PASSWORD not in repr(result) and PASSWORD not in repr(log_rows(app, actor))
    events = app.audit_events(actor.identity)
    assert PASSWORD not in json.dumps([e.model_dump(mode="json") for e in events])


def test_sending_needs_a_recipient_and_the_password(desk, smtp_server):
    app, actor, blocked, _ = desk
    no_to = app.invite(actor, ExistingCustomerInvitation(customer=blocked[0]["customer_id"]))
    masked = app.invite(
        actor,
        NewCustomerInvitation(
            customer=blocked[1]["customer_id"],
            user_name="admin",
            password=PASSWORD,
            to="a@b.example",
        ),
    ).without_password()
    results = app.send_invitations(actor, [no_to, masked], pacer=fast_pacer()[0])
    assert [r.sent for r in results] == [False, False]
    assert results[0].error.problems[0].field == "to"
    assert results[1].error.problems[0].field == "password"
    assert not smtp_server.messages
    assert not [r for r in log_rows(app, actor) if r.how != "generated"]


def test_sending_is_rate_limited_with_the_setting(desk, smtp_server):
    app, actor, blocked, _ = desk
    emails = [
        app.invite(
            actor,
            ExistingCustomerInvitation(customer=row["customer_id"], to=f"it{i}@c.example"),
        )
        for i, row in enumerate(blocked[:3])
    ]
    pacer, clock = fast_pacer(app.settings.invitation_send_per_minute)  # 30 a minute: every 2 s
    app.send_invitations(actor, emails, pacer=pacer)
    assert clock.sleeps == [2.0, 2.0] and len(smtp_server.messages) == 3


def test_the_shared_pacer_follows_the_setting(desk):
    app, actor, _, _ = desk
    pacer = app.invitation_pacer(actor.identity)
    assert pacer is app.invitation_pacer(actor.identity)
    assert pacer.interval == pytest.approx(60 / app.settings.invitation_send_per_minute)


def test_a_refused_message_is_recorded_and_the_others_still_go(desk, smtp_server):
    app, actor, blocked, _ = desk
    emails = [
        app.invite(
            actor,
            ExistingCustomerInvitation(customer=row["customer_id"], to=f"it{i}@c.example"),
        )
        for i, row in enumerate(blocked[:3])
    ]

    def refuse_the_second(done: int, _total: int, _label: str) -> None:
        smtp_server.refuse_with = "550 no" if done == 1 else None

    results = app.send_invitations(actor, emails, pacer=fast_pacer()[0], progress=refuse_the_second)
    assert [r.sent for r in results] == [True, False, True]
    failed = results[1]
    assert failed.delivery_failed and "550" in failed.reason
    assert failed.email.subject == emails[1].subject  # kept: the page still offers the .eml
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == ["it0@c.example", "it2@c.example"]
    [row] = [r for r in log_rows(app, actor) if r.how == "send_failed"]
    assert row.customer_id == blocked[1]["customer_id"] and "550" in row.failure
    outcomes = sorted(e.outcome for e in app.audit_events(actor.identity, action="send_invitation"))
    assert outcomes == ["failed", "sent", "sent"]


def test_a_manager_or_helpdesk_is_checked_like_generating(desk, smtp_server):
    app, actor, blocked, _ = desk
    email = app.invite(
        actor, ExistingCustomerInvitation(customer=blocked[0]["customer_id"], to="it@c.example")
    )
    from mca_core.domain.models import Role

    manager = type(actor)(actor.identity.model_copy(update={"role": Role.MANAGER}), actor.tokens)
    [result] = app.send_invitations(manager, [email], pacer=fast_pacer()[0])
    assert not result.sent and isinstance(result.error, AccessRefused)
    assert not smtp_server.messages
    helpdesk = app.sandbox_actor("helpdesk-agent")
    reseller_link = app.invite(
        actor, __import__("mca_core").RelationshipInvitation(to="x@y.example")
    )
    [refused] = app.send_invitations(helpdesk, [reseller_link], pacer=fast_pacer()[0])
    assert isinstance(refused.error, AccessRefused)


def test_without_smtp_nothing_is_sent(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    assert not app.email_configured
    with pytest.raises(ConfigurationError, match="MCA_SMTP_HOST"):
        app.send_invitations(actor, [])


# --- the command line -----------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_invite_send(desk, smtp_server, tmp_path):
    app, actor, blocked, _ = desk
    customer = blocked[0]["customer_id"]
    code, out, err = run("invite", "mca", "--customer", customer, "--to", "it@c.example", "--send")
    assert code == EXIT_OK, err
    assert "Sent the mca_existing email" in out and "Message-ID" in out
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["it@c.example"] and MCA_ACCEPTANCE_URL in message.text
    code, out, _ = run(
        "--json", "invite", "mca", "--customer", customer, "--to", "it@c.example", "--send"
    )
    doc = json.loads(out)
    assert code == EXIT_OK and doc["sent"] is True and doc["message_id"]
    assert [r.how for r in log_rows(app, actor)].count("sent") == 2


def test_cli_send_failure_names_the_reason_and_keeps_the_eml(desk, smtp_server, tmp_path):
    _, _, blocked, _ = desk
    smtp_server.refuse_with = "550 no"
    target = tmp_path / "invite.eml"
    argv = ["invite", "mca", "--customer", blocked[0]["customer_id"], "--to", "it@c.example"]
    code, out, err = run(*argv, "--send", "--format", "eml", "--out", str(target))
    assert code == EXIT_FAILED and "Traceback" not in err
    assert "550" in err and "MCA_SMTP_HOST" in err and str(target) in err
    assert target.read_bytes().startswith(b"") and b"Subject:" in target.read_bytes()
    code, out, err = run("--json", *argv, "--send")
    doc = json.loads(out)
    assert code == EXIT_FAILED and doc["error"] == "delivery" and "550" in doc["message"]


def test_cli_send_without_a_recipient_or_a_server(sandbox_env, desk, monkeypatch):
    _, _, blocked, _ = desk
    customer = blocked[0]["customer_id"]
    code, _, err = run("invite", "mca", "--customer", customer, "--send")
    assert code == EXIT_INVALID and "--to" in err
    monkeypatch.delenv("MCA_SMTP_HOST")
    code, _, err = run("invite", "mca", "--customer", customer, "--to", "a@b.example", "--send")
    assert code == EXIT_FAILED and "MCA_SMTP_HOST" in err and "Traceback" not in err


# --- the Invitations page -------------------------------------------------------------------


def test_the_invitations_page_sends_beside_the_eml_download(sandbox_env, smtp_server, monkeypatch):
    from .apptest import cli, open_page, run, texts

    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_INVITATION_SEND_PER_MINUTE", "6000")
    assert cli("sync") == 0
    at = run(open_page(INVITATIONS_PAGE, "admin-agent"))
    at = run(at.selectbox(key="inv1_customer").select_index(0))
    at = run(at.text_input(key="inv1_to").input("jane.doe@customer.example"))
    at = run(at.button(key="inv1_generate").click())
    assert at.download_button and at.button(key="inv1_send").label == "Send"
    at = run(at.button(key="inv1_send").click())
    assert "Sent to jane.doe@customer.example" in texts(at)
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["jane.doe@customer.example"]
    assert MCA_ACCEPTANCE_URL in message.text
    smtp_server.refuse_with = "550 no"
    at = run(at.button(key="inv1_send").click())
    assert "550" in texts(at) and at.download_button  # the .eml stays


def test_the_invitations_page_has_no_send_button_without_smtp(sandbox_env):
    from .apptest import cli, open_page, run

    assert cli("sync") == 0
    at = run(open_page(INVITATIONS_PAGE, "admin-agent"))
    at = run(at.selectbox(key="inv1_customer").select_index(0))
    at = run(at.button(key="inv1_generate").click())
    assert at.download_button and not [b for b in at.button if b.key == "inv1_send"]


def test_a_cli_send_that_failed_without_a_file_is_no_invitation(desk, smtp_server):
    """Only the send's row is logged when nothing else was handed over: a refused send leaves
    the customer uninvited (no "Invited on", not on the follow-up list); one that went is one
    row, `sent`."""
    app, actor, blocked, _ = desk
    customer = blocked[0]["customer_id"]
    argv = ["invite", "mca", "--customer", customer, "--to", "typo@c.example", "--send"]
    smtp_server.refuse_with = "550 no such user"
    assert run(*argv)[0] == EXIT_FAILED
    assert [r.how for r in log_rows(app, actor)] == ["send_failed"]
    assert customer not in app.latest_invitations(actor.identity)
    smtp_server.refuse_with = None
    assert run(*argv)[0] == EXIT_OK
    assert sorted(r.how for r in log_rows(app, actor)) == ["send_failed", "sent"]
    assert app.latest_invitations(actor.identity)[customer].how == "sent"
