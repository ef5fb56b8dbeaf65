"""The follow-up list (customers invited more than N days ago and still blocked in the latest
sync), the one-click reminder (sent over a real SMTP server, or a .eml without one), who may
read and who may remind, and the Follow-up page (AppTest), with "invited on / by" on the
Overview table and the Blocked list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mca_core import AccessRefused, App, ExistingCustomerInvitation, Role, load_settings, metrics
from mca_core.store.invitation_log import InvitationEntry, InvitationLog

from .apptest import cli, open_page, run, texts
from .test_invitation_log import fast_pacer, synced_desk

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/6_Follow_up.py")


@pytest.fixture
def desk(sandbox_env, smtp_server, monkeypatch):
    return synced_desk(smtp_server, monkeypatch)


def invited_long_ago(app: App, identity, row: dict, days: int, **kw) -> InvitationEntry:
    """An invitation `days` ago, as the desk records one."""
    return InvitationLog(app.desk.store).add(
        InvitationEntry(
            partner_tenant_id=identity.partner_tenant_id,
            customer_id=row["customer_id"],
            kind=kw.pop("kind", "mca_existing"),
            how=kw.pop("how", "sent"),
            at=datetime.now(UTC) - timedelta(days=days),
            company_name=row["company_name"],
            recipient=kw.pop("recipient", f"it@{row['customer_id'][:8]}.example"),
            locale=kw.pop("locale", "en"),
            user_id="megan",
            user_name="Megan Bowen",
            **kw,
        )
    )


def as_manager(actor):
    return type(actor)(actor.identity.model_copy(update={"role": Role.MANAGER}), actor.tokens)


def test_follow_up_selects_by_days_and_state(desk):
    app, actor, blocked, accepted = desk
    identity = actor.identity
    app.invite(actor, ExistingCustomerInvitation(customer=blocked[0]["customer_id"], to="a@b.cd"))
    app.invite(actor, ExistingCustomerInvitation(customer=accepted[0]["customer_id"], to="x@y.cd"))
    invited_long_ago(app, identity, blocked[1], 3)
    # a failed send is no invitation: blocked[2] was "invited" 20 days ago, then a send failed
    invited_long_ago(app, identity, blocked[2], 20, how="generated")
    invited_long_ago(app, identity, blocked[2], 1, how="send_failed")

    assert [i.customer_id for i in app.follow_up(identity, 7)] == [blocked[2]["customer_id"]]
    later = datetime.now(UTC) + timedelta(days=10)
    found = {i.customer_id: i for i in app.follow_up(identity, 7, now=later)}
    assert set(found) == {
        blocked[0]["customer_id"],
        blocked[1]["customer_id"],
        blocked[2]["customer_id"],
    }
    first = found[blocked[0]["customer_id"]]
    assert first.recipient == "a@b.cd" and first.kind == "mca_existing" and first.how == "generated"
    assert first.invited_by == identity.display_name and first.days == 10
    assert (
        first.state in metrics.BLOCKED_STATUSES and first.company_name == blocked[0]["company_name"]
    )
    assert [i.customer_id for i in app.follow_up(identity, 2)] == [
        blocked[2]["customer_id"],
        blocked[1]["customer_id"],
    ]  # oldest first
    assert app.follow_up(identity) == app.follow_up(identity, app.settings.follow_up_after_days)


def test_a_reminder_is_the_same_invitation_again_sent_from_the_desk(desk, smtp_server):
    app, actor, blocked, _ = desk
    row = blocked[0]
    invited_long_ago(app, actor.identity, row, 9, recipient="li.lei@customer.cn", locale="zh-CN")
    assert len(app.follow_up(actor.identity, 7)) == 1
    email, result = app.send_reminder(actor, row["customer_id"], pacer=fast_pacer()[0])
    assert result is not None and result.sent
    [message] = smtp_server.messages
    assert message.rcpt_tos == ["li.lei@customer.cn"] and email.locale == "zh-CN"
    assert "客户协议" in message.text
    assert app.follow_up(actor.identity, 7) == []  # reminded today: off the list
    latest = app.latest_invitations(actor.identity)[row["customer_id"]]
    assert latest.how == "sent" and latest.message_id == result.message_id


def test_a_reminder_without_smtp_is_a_eml(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    app.sync(actor)
    snapshot = app.latest_snapshot(actor.identity)
    row = next(r for r in app.snapshot_rows(snapshot) if metrics.row_blocked(r, app.current_since))
    invited_long_ago(app, actor.identity, row, 9, recipient="it@c.example")
    email, result = app.send_reminder(actor, row["customer_id"])
    assert result is None and email.to == "it@c.example" and email.kind == "mca_existing"
    assert app.latest_invitations(actor.identity)[row["customer_id"]].how == "generated"


def test_a_provider_request_has_no_one_click_reminder(desk):
    app, actor, blocked, _ = desk
    invited_long_ago(app, actor.identity, blocked[0], 9, kind="provider_request")
    [item] = app.follow_up(actor.identity, 7)
    assert item.reminder_kind is None
    with pytest.raises(Exception, match="no one-click reminder"):
        app.reminder(actor, blocked[0]["customer_id"])


def test_a_manager_reads_the_list_and_may_not_remind(desk):
    app, actor, blocked, _ = desk
    invited_long_ago(app, actor.identity, blocked[0], 9)
    manager = as_manager(actor)
    assert len(app.follow_up(manager.identity, 7)) == 1
    with pytest.raises(AccessRefused):
        app.send_reminder(manager, blocked[0]["customer_id"])
    indirect = app.sandbox_actor("indirect-reseller")
    assert app.follow_up(indirect.identity, 7) == []  # its own partner's invitations only


# --- the page -------------------------------------------------------------------------------


@pytest.fixture
def synced_with_an_old_invitation(sandbox_env):
    assert cli("sync") == 0
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    rows = app.snapshot_rows(app.latest_snapshot(actor.identity))
    row = next(r for r in rows if metrics.row_blocked(r, app.current_since))
    invited_long_ago(app, actor.identity, row, 12, recipient="it@c.example")
    return row


def test_the_page_lists_and_reminds_as_an_eml_without_smtp(synced_with_an_old_invitation):
    row = synced_with_an_old_invitation
    at = run(open_page(PAGE, "admin-agent"))
    assert at.number_input(key="fu_days").value == 7
    [table] = at.dataframe
    assert list(table.value["company"]) == [row["company_name"]]
    assert list(table.value["invited_by"]) == ["Megan Bowen"] and list(table.value["days"]) == [12]
    assert any(b.label == "Download the list (CSV)" for b in at.get("download_button"))
    at = run(at.button(key=f"fu_remind_{row['customer_id']}").click())
    assert "Download the .eml" in texts(at)
    assert any(b.label == "Download .eml" for b in at.get("download_button"))
    at = run(at.number_input(key="fu_days").set_value(30))
    assert "Nobody to follow up" in texts(at)


def test_the_page_sends_a_reminder_with_smtp(
    synced_with_an_old_invitation, smtp_server, monkeypatch
):
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_INVITATION_SEND_PER_MINUTE", "6000")
    row = synced_with_an_old_invitation
    at = run(open_page(PAGE, "sales-agent"))
    at = run(at.button(key=f"fu_remind_{row['customer_id']}").click())
    assert "Reminder sent" in texts(at) and not at.error
    assert [m.rcpt_tos for m in smtp_server.messages] == [["it@c.example"]]
    assert not at.dataframe  # reminded: nobody left to follow up
    assert "Nobody to follow up" in texts(at)


def test_a_manager_sees_the_list_without_reminder_buttons(synced_with_an_old_invitation):
    at = run(open_page(PAGE, "manager"))
    assert len(at.dataframe) == 1
    assert not [b for b in at.button if str(b.key or "").startswith("fu_remind_")]
    assert "Reminders are sent by agents" in texts(at)


def test_signed_out_is_sent_to_the_home_page(sandbox_env):
    from streamlit.testing.v1 import AppTest

    at = run(AppTest.from_file(PAGE, default_timeout=60))
    assert "sign in" in at.warning[0].value.lower() and not at.dataframe


def test_overview_and_blocked_list_show_invited_on_and_by(synced_with_an_old_invitation):
    row = synced_with_an_old_invitation
    at = run(open_page(str(ROOT / "pages/1_Overview.py"), "admin-agent"))
    [table] = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert "invited_on" in table.columns and "invited_by" in table.columns
    mine = table[table["company"] == row["company_name"]]
    assert list(mine["invited_by"]) == ["Megan Bowen"]
    assert set(table["invited_by"]) == {"Megan Bowen", "—"}
    at = run(open_page(str(ROOT / "pages/2_Attest.py"), "admin-agent"))
    assert "Invited on / by" in texts(at)
    at = run(at.text_input(key="bl_search").input(row["customer_id"]))
    assert "Megan Bowen" in texts(at)


def test_remind_all_sends_every_reminder_as_a_job_with_one_failure_named(
    sandbox_env, smtp_server, monkeypatch
):
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_INVITATION_SEND_PER_MINUTE", "6000")
    assert cli("sync") == 0
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    rows = app.snapshot_rows(app.latest_snapshot(actor.identity))
    blocked = [r for r in rows if metrics.row_blocked(r, app.current_since)][:3]
    for number, row in enumerate(blocked):
        invited_long_ago(app, actor.identity, row, 10 + number, recipient=f"it{number}@c.example")
    refused = "it2@c.example"

    class Refusing:  # the server refuses one recipient, as a real one does (550)
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address == refused:
                return "550 5.1.1 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    smtp_server._controller.handler.handle_RCPT = Refusing().handle_RCPT
    at = run(open_page(PAGE, "admin-agent"))
    button = at.button(key="fu_remind_all")
    assert button.label == "Remind all 3 customers by email"
    at = run(button.click())
    shown = texts(at)
    assert "Reminders: 2 sent, 1 failed, 0 written as .eml" in shown
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["it0@c.example", "it1@c.example"]
    failed = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert list(failed.iloc[:, 1]) == [refused] and "550" in failed.iloc[0, 2]
    # the two reminded customers left the list; the refused one stays
    assert [i.customer_id for i in app.follow_up(actor.identity)] == [blocked[2]["customer_id"]]
    # the server takes the last one now: remind it again;
    # the result stays on the page even when nobody is left
    smtp_server._controller.handler.handle_RCPT = _accept_all
    at = run(at.button(key="fu_remind_all").click())
    assert "Reminders: 1 sent, 0 failed" in texts(at) and "Nobody to follow up" in texts(at)
    # a Manager is not offered it, and the core refuses it
    at = run(open_page(PAGE, "manager"))
    assert not [b for b in at.button if b.key == "fu_remind_all"]
    with pytest.raises(AccessRefused):
        app.start_reminders(as_manager(actor), [blocked[2]["customer_id"]])


async def _accept_all(server, session, envelope, address, options):
    envelope.rcpt_tos.append(address)
    return "250 OK"
