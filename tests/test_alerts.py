"""Alerts (issue 15): what changed, told once, over a real SMTP server and a real webhook.

The "done when" runs the CLI as a scheduler would: a first `sync --notify` sends one email and
one card naming the customers not accepted and those who must re-accept; a second one with no
change sends nothing; after a customer accepts through the link, the next one reports it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from mca_core import App, load_settings
from mca_core.store.alert_log import AlertLog, alert_outbox

from .test_cli import run, run_json

PASSWORD = "smtp-pass-Zx9!q"


@pytest.fixture
def alerting(sandbox_env, monkeypatch, smtp_server, webhook):
    """The sandbox with both channels pointing at the local receivers (no waiting between
    delivery tries)."""
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_ALERT_TO", "manager@contoso.example, zh-CN:li.lei@contoso.example")
    monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("MCA_DELIVERY_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("MCA_DELIVERY_ATTEMPTS", "2")
    return smtp_server, webhook


def sandbox_app() -> tuple[App, object]:
    app = App.from_settings(load_settings())
    return app, app.sandbox_actor()


def outbox_rows() -> list[dict]:
    app, _ = sandbox_app()
    AlertLog(app.desk.store)  # the tables, as the desk creates them on first use
    with app.desk.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(alert_outbox.select())]


def test_done_when_first_notify_tells_a_second_is_silent_an_acceptance_is_reported(alerting):
    smtp, hook = alerting
    code, summary, err = run_json("sync", "--notify")
    assert code == 0, err
    not_accepted, reaccept = summary["not_accepted"], summary["reacceptance_required"]
    assert not_accepted > 0 and reaccept > 0
    assert {a["kind"]: a["count"] for a in summary["alerts"]["alerts"]} == {
        "not_accepted": not_accepted,
        "reacceptance_required": reaccept,
    }
    assert summary["alerts"]["pending"] == 0 and summary["alerts"]["failed"] == []

    # one email per language, one card
    english, chinese = sorted(smtp.messages, key=lambda m: m["Content-Language"])
    assert english["To"] == "manager@contoso.example"
    assert english["From"] == "mca-desk@contoso.example"
    assert f"{not_accepted} not accepted" in english["Subject"]
    assert f"{reaccept} must re-accept" in english["Subject"]
    assert f"{not_accepted} customers not accepted" in english.text
    assert "http://localhost:8501/Attest" in english.text and "/Attest" in english.html
    assert chinese["To"] == "li.lei@contoso.example" and chinese["Content-Language"] == "zh-CN"
    assert f"{not_accepted} 个客户未接受" in chinese.text
    assert f"{reaccept} 个需重新接受" in chinese["Subject"]
    assert len(hook.cards) == 1
    card = hook.cards[0]
    texts = [b.get("text", "") for b in card["body"]]
    assert any(f"{not_accepted} customers not accepted" in t for t in texts)
    facts = {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Not accepted"] == str(not_accepted) and facts["Must re-accept"] == str(reaccept)
    assert {a["url"] for a in card["actions"]} >= {"http://localhost:8501/Attest"}

    # nothing changed: nothing sent
    code, summary, err = run_json("sync", "--notify")
    assert code == 0, err
    assert summary["alerts"]["alerts"] == [] and summary["alerts"]["queued"] is False
    assert len(smtp.messages) == 2 and len(hook.cards) == 1

    # a customer accepts through the link: the next sync --notify reports it
    app, actor = sandbox_app()
    row = next(
        r for r in app.snapshot_rows(app.latest_snapshot(actor.identity)) if r["accepted"] is False
    )
    code, doc, err = run_json(
        "attest", row["customer_id"], "--first-name", "Jane", "--last-name", "Doe",
        "--email", "jane@contoso.com",
    )  # fmt: skip
    assert code == 0 and doc["outcome"] == "link_created", err
    assert run("sandbox-accept", doc["attestation_id"])[0] == 0
    code, summary, err = run_json("sync", "--notify")
    assert code == 0, err
    assert summary["finalised"] == 1
    assert [(a["kind"], a["count"]) for a in summary["alerts"]["alerts"]] == [("accepted", 1)]
    assert len(smtp.messages) == 4 and len(hook.cards) == 2
    newest = next(m for m in smtp.messages[2:] if m["Content-Language"] == "en")
    assert "1 accepted" in newest["Subject"]
    assert (
        "1 customer accepted the MCA (1 through the acceptance link, agreement created by the "
        "desk)" in newest.text
    )
    assert summary["alerts"]["alerts"][0]["count"] == 1
    assert row["company_name"] in newest.text


def test_a_delivery_failure_after_a_good_sync_is_exit_0_a_warning_and_sent_next_time(alerting):
    smtp, hook = alerting
    smtp.stop()
    hook.status = 503
    code, summary, err = run_json("sync", "--notify")
    assert code == 0
    assert summary["complete"] is True
    assert "warning: the email alert to manager@contoso.example was not delivered" in err
    assert "warning: the email alert to li.lei@contoso.example was not delivered" in err
    assert "warning: the teams alert was not delivered" in err and "HTTP 503" in err
    assert "stays queued" in err and "Traceback" not in err
    assert "secret-signature" not in err and "webhookb2" not in err
    assert summary["alerts"]["pending"] == 3  # one row per recipient, one for Teams
    assert {r["status"] for r in outbox_rows()} == {"pending"}
    assert all(r["last_error"] and r["attempts"] == 1 for r in outbox_rows())

    smtp.start()
    hook.status = 200
    code, summary, err = run_json("sync", "--notify")  # nothing new; the queued alert goes now
    assert code == 0, err
    assert summary["alerts"]["alerts"] == [] and summary["alerts"]["pending"] == 0
    assert len(smtp.messages) == 2 and len(hook.cards) == 1  # once, not twice
    assert {r["status"] for r in outbox_rows()} == {"sent"}
    code, summary, _ = run_json("sync", "--notify")
    assert len(smtp.messages) == 2 and len(hook.cards) == 1


def test_dry_run_prints_what_would_be_sent_and_records_nothing(alerting):
    smtp, hook = alerting
    assert run("sync")[0] == 0
    code, out, err = run("alerts", "--dry-run")
    assert code == 0, err
    assert out.startswith("Would send (email, teams):")
    assert "customers not accepted" in out and "Where Contoso" in out
    assert smtp.messages == [] and hook.requests == [] and outbox_rows() == []
    code, doc, _ = run_json("alerts", "--dry-run")
    assert doc["dry_run"] is True and doc["notice"]["first"] is True
    # `alerts` sends it; then the dry run has nothing left to say
    code, doc, err = run_json("alerts")
    assert code == 0 and len(doc["delivered"]) == 3, err  # two recipients, one card
    code, out, _ = run("alerts", "--dry-run")
    assert "nothing would be sent" in out


def test_alerts_without_a_channel_is_a_configuration_error_naming_the_settings(sandbox_env):
    assert run("sync")[0] == 0
    code, _out, err = run("alerts")
    assert code == 1
    assert "MCA_SMTP_HOST" in err and "MCA_TEAMS_WEBHOOK_URL" in err and "Traceback" not in err
    # sync --notify without a channel: the sync is done, a warning says nothing was sent
    code, summary, err = run_json("sync", "--notify")
    assert code == 0 and summary["alerts"]["queued"] is False
    assert "No alert channel is configured" in err


def test_a_webhook_asking_to_wait_an_hour_does_not_hold_the_sync(alerting):
    smtp, hook = alerting
    hook.fail_with = [(429, {"Retry-After": "3600"})]
    started = datetime.now(UTC)
    code, summary, err = run_json("sync", "--notify")
    assert code == 0
    assert (datetime.now(UTC) - started) < timedelta(seconds=30)
    assert "asked to wait 3600 s" in err
    assert summary["alerts"]["pending"] == 1  # the card goes next time; the email went
    assert len(smtp.messages) == 2 and hook.cards == []
    run_json("alerts")
    assert len(hook.cards) == 1


def test_no_secret_reaches_the_log_the_store_or_the_output(
    sandbox_env, monkeypatch, caplog, webhook
):
    from tests.receivers import SmtpServer

    server = SmtpServer(users={"desk": PASSWORD}).start()
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MCA_SMTP_USERNAME", "desk")
        monkeypatch.setenv("MCA_SMTP_PASSWORD", "wrong-" + PASSWORD)
        monkeypatch.setenv("MCA_ALERT_TO", "manager@contoso.example")
        monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", webhook.url)
        monkeypatch.setenv("MCA_DELIVERY_BACKOFF_SECONDS", "0")
        webhook.status = 404
        caplog.set_level(logging.DEBUG)
        code, out, err = run("sync", "--notify")
        assert code == 0
        assert "MCA_SMTP_USERNAME and MCA_SMTP_PASSWORD" in err  # the login was refused
        assert "removed or regenerated webhook" in err
        stored = json.dumps([{k: str(v) for k, v in r.items()} for r in outbox_rows()])
        everything = out + err + caplog.text + stored + _store_dump(sandbox_env)
        assert PASSWORD not in everything
        assert "secret-signature" not in everything
        assert server.messages == []
        # the right password: the queued alert is delivered, after a login
        monkeypatch.setenv("MCA_SMTP_PASSWORD", PASSWORD)
        webhook.status = 200
        code, doc, err = run_json("alerts")
        assert code == 0 and len(doc["delivered"]) == 2, err
        assert server.logins == ["desk"] and len(server.messages) == 1
    finally:
        server.stop()


def _store_dump(tmp_path) -> str:
    con = sqlite3.connect(tmp_path / "data" / "desk.sqlite3")
    return "\n".join(str(row) for row in con.iterdump())


def test_customer_names_are_data_in_the_email(alerting):
    smtp, _ = alerting
    app, actor = sandbox_app()
    app.sync(actor)
    snap = app.latest_snapshot(actor.identity)
    with app.desk.store.engine.begin() as conn:
        from mca_core.store.database import snapshot_rows

        conn.execute(
            snapshot_rows.update()
            .where(snapshot_rows.c.snapshot_id == snap.id, snapshot_rows.c.accepted.is_(False))
            .values(company_name="<b>Evil</b> **Corp** [x](http://evil.example)")
        )
    app.notify(actor)
    english = next(m for m in smtp.messages if m["Content-Language"] == "en")
    assert "&lt;b&gt;Evil&lt;/b&gt; **Corp**" in english.html
    assert "<b>Evil</b>" not in english.html
    assert 'href="http://evil.example"' not in english.html
    assert "<b>Evil</b> **Corp**" in english.text


def test_two_runs_at_once_alert_once(alerting):
    smtp, hook = alerting
    app, actor = sandbox_app()
    app.sync(actor)
    results = []
    barrier = threading.Barrier(2)

    def one() -> None:
        other = App.from_settings(load_settings())
        barrier.wait()
        results.append(other.notify(other.sandbox_actor()))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if r.queued) == 1
    assert len(smtp.messages) == 2 and len(hook.cards) == 1


def test_links_that_expire_soon_expired_and_ready_to_finalise(alerting, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "false")
    monkeypatch.setenv("MCA_ALERT_LINK_EXPIRY_DAYS", "8")  # the sandbox's links last 7 days
    app, actor = sandbox_app()
    app.sync(actor)
    app.notify(actor)
    rows = [r for r in app.snapshot_rows(app.latest_snapshot(actor.identity)) if not r["accepted"]]
    created = []
    for row in rows[:3]:
        code, doc, err = run_json(
            "attest", row["customer_id"], "--first-name", "Jane", "--last-name", "Doe",
            "--email", "jane@contoso.com",
        )  # fmt: skip
        assert code == 0, err
        created.append(doc)
    assert run("sandbox-accept", created[0]["attestation_id"])[0] == 0
    app.refresh_links(actor)
    outcome = app.notify(actor)
    kinds = dict((a["kind"], a["count"]) for a in outcome.notice["alerts"])
    assert kinds == {"ready_to_finalise": 1, "link_expiring": 2}
    ready = next(a for a in outcome.notice["alerts"] if a["kind"] == "ready_to_finalise")
    assert ready["customers"][0]["id"] == created[0]["customer_id"]
    assert ready["page"] == "http://localhost:8501/Overview"
    # a week later the two open links expired: told once more, as expired
    later = datetime.now(UTC) + timedelta(days=8)
    from mca_core.usecases import alerts as use_case

    notice = use_case.preview(app.desk.store, actor.identity, app.settings, now=later)
    assert dict((a["kind"], a["count"]) for a in notice["alerts"]) == {"link_expired": 2}


def test_the_dashboard_sync_job_notifies_when_a_channel_is_set(alerting):
    smtp, _hook = alerting
    app, actor = sandbox_app()
    assert app.should_notify()
    from mca_core import SyncRequest

    started = app.start_sync(actor, SyncRequest(notify=app.should_notify()))
    assert started.job.wait(60)
    summary = started.job.result
    assert summary.alerts["queued"] is True and len(summary.alerts["delivered"]) == 3
    assert len(smtp.messages) == 2


def test_alert_to_with_a_bad_address_is_named(sandbox_env, monkeypatch, smtp_server):
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_ALERT_TO", "manager@contoso.example, not-an-address")
    assert run("sync")[0] == 0
    code, _out, err = run("alerts")
    assert code == 1
    assert "alert_to" in err and "not-an-address" in err and "Traceback" not in err
    assert (
        AlertLog(sandbox_app()[0].desk.store).recent(
            sandbox_app()[0].snapshot_scope(sandbox_app()[1].identity)
        )
        == []
    )


# --- what changed, in isolation ------------------------------------------------------------------


def _standing(**subjects: str):
    from mca_core.usecases.alerts import Standing, Subject

    made = {}
    for key, value in subjects.items():
        kind, _, cid = key.partition("_")
        subject_key = f"{kind}:{cid}"
        made[subject_key] = Subject(subject_key, value, cid, cid.upper(), f"{cid}.example")
    return Standing(made, {"customers": len(made)}, None, None)


def test_compare_first_tells_the_blocked_then_only_changes():
    from mca_core.usecases.alerts import compare

    first = compare({}, _standing(customer_a="accepted", customer_b="not_accepted"))
    assert first.first and [s.customer_id for s in first.by_kind["not_accepted"]] == ["b"]
    assert first.by_kind["accepted"] == []  # an accepted customer is no news on the first run
    assert first.told == {"customer:a": "accepted", "customer:b": "not_accepted"}
    told = dict(first.told)

    # b accepts, c is new and not accepted, d is new and accepted (silent)
    later = compare(
        told,
        _standing(
            customer_a="accepted", customer_b="accepted", customer_c="not_accepted",
            customer_d="accepted",
        ),
    )  # fmt: skip
    assert not later.first
    assert [s.customer_id for s in later.by_kind["accepted"]] == ["b"]
    assert [s.customer_id for s in later.by_kind["not_accepted"]] == ["c"]
    assert "customer:d" in later.told and later.forgotten == []


def test_compare_a_customer_not_read_keeps_what_was_told_and_alerts_as_unreadable():
    from mca_core.usecases.alerts import compare

    told = {"customer:a": "not_accepted", "customer:b": "accepted"}
    change = compare(told, _standing(unread_a="unknown", customer_b="accepted"))
    assert [s.customer_id for s in change.by_kind["unreadable"]] == ["a"]
    assert change.forgotten == []  # a's last told state is kept
    told.update(change.told)
    # read again, still not accepted: no news; the unread fact is forgotten
    again = compare(told, _standing(customer_a="not_accepted", customer_b="accepted"))
    assert again.empty and again.forgotten == ["unread:a"]
    # a customer gone from Partner Center is forgotten without an alert
    gone = compare({"customer:a": "not_accepted"}, _standing())
    assert gone.empty and gone.forgotten == ["customer:a"]


def test_compare_a_link_is_told_once_per_stage():
    from mca_core.usecases.alerts import compare

    change = compare({"customer:a": "not_accepted"}, _standing(
        customer_a="not_accepted", link_r1="expiring"))  # fmt: skip
    assert [k for k, v in change.by_kind.items() if v] == ["link_expiring"]
    told = {"customer:a": "not_accepted", "link:r1": "expiring"}
    assert compare(told, _standing(customer_a="not_accepted", link_r1="expiring")).empty
    expired = compare(told, _standing(customer_a="not_accepted", link_r1="expired"))
    assert [k for k, v in expired.by_kind.items() if v] == ["link_expired"]


def test_a_webhook_setting_that_is_not_a_url_is_named_and_nothing_is_queued(
    sandbox_env, monkeypatch
):
    monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", "not-a-url")
    assert run("sync")[0] == 0
    code, _out, err = run("alerts")
    assert code == 1
    assert "teams_webhook_url" in err and "not an http(s) URL" in err and "not-a-url" not in err
    assert outbox_rows() == []


def test_a_recipient_with_a_line_break_is_named_on_one_line(sandbox_env, monkeypatch, smtp_server):
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_ALERT_TO", "a@x.com\r\nBcc: evil@y.com")
    assert run("sync")[0] == 0
    code, _out, err = run("alerts")
    assert code == 1 and smtp_server.messages == []
    named = next(line for line in err.splitlines() if "alert_to" in line)
    assert "Bcc: evil@y.com" in named and "is empty" not in err


def test_one_refused_recipient_never_makes_another_get_the_alert_twice(alerting):
    """A 451 for one recipient: the other gets it once; the refused one gets it when the server
    takes it, once. A 550 for a recipient names it and the server's answer."""
    smtp, _hook = alerting
    handler = smtp._controller.handler
    refuse = {"li.lei@contoso.example": "451 4.2.1 mailbox busy"}

    async def rcpt(server, session, envelope, address, options):
        if address in refuse:
            return refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    handler.handle_RCPT = rcpt
    code, _summary, err = run_json("sync", "--notify")
    assert code == 0
    assert "li.lei@contoso.example refused: 451" in err and "mailbox busy" in err
    run_json("alerts")
    assert [m.rcpt_tos for m in smtp.messages] == [["manager@contoso.example"]]
    refuse.clear()
    code, doc, _ = run_json("alerts")
    assert [d["to"] for d in doc["delivered"]] == ["li.lei@contoso.example"]
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
        "li.lei@contoso.example", "manager@contoso.example",
    ]  # fmt: skip

    refuse["manager@contoso.example"] = "550 5.1.1 no such user"
    app, actor = sandbox_app()
    snap = app.latest_snapshot(actor.identity)
    row = next(r for r in app.snapshot_rows(snap) if r["accepted"] is False)
    app.desk.store.write_through(
        snap.id, row["customer_id"], {"direct_signed": True, "accepted": True}
    )
    code, doc, err = run_json("alerts")
    assert [f["to"] for f in doc["failed"]] == ["manager@contoso.example"]
    assert "550" in doc["failed"][0]["reason"] and "no such user" in doc["failed"][0]["reason"]


def test_an_alert_for_a_channel_no_longer_configured_is_dropped_and_says_so(alerting, monkeypatch):
    _smtp, hook = alerting
    hook.status = 503
    assert run_json("sync", "--notify")[0] == 0  # the card stays queued
    monkeypatch.delenv("MCA_TEAMS_WEBHOOK_URL")
    code, doc, err = run_json("alerts")
    assert code == 0
    dropped = [f for f in doc["failed"] if f["dropped"]]
    assert [f["channel"] for f in dropped] == ["teams"] and doc["pending"] == 0
    assert "teams is no longer configured" in err and "dropped" in err
    assert "pending" not in {r["status"] for r in outbox_rows()}


def test_the_webhook_url_is_masked_in_httpx_log_whatever_its_spelling(
    sandbox_env, monkeypatch, caplog, webhook
):
    """httpx logs the URL normalised (lower-case scheme and host, no default port): the
    configured string alone would not match it."""
    loud = webhook.url.replace("http://127.0.0.1", "HTTP://LOCALHOST") + "?sig=SIGSECRET"
    monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", loud)
    caplog.set_level(logging.DEBUG)
    assert run("sync")[0] == 0
    code, out, err = run("-v", "alerts")
    assert code == 0 and len(webhook.cards) == 1
    everything = out + err + caplog.text
    assert "HTTP Request: POST" in caplog.text  # the line that used to carry it
    assert "secret-signature" not in everything and "SIGSECRET" not in everything


def test_an_alert_from_with_a_line_break_is_a_setting_error_for_every_sender(
    sandbox_env, monkeypatch, smtp_server
):
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_ALERT_TO", "manager@contoso.example")
    monkeypatch.setenv("MCA_ALERT_FROM", "desk@contoso.com\r\nBcc: evil@y.com")
    assert run("sync")[0] == 0
    for argv in (("alerts",), ("digest",)):
        code, _out, err = run(*argv)
        assert code == 1, argv
        assert "alert_from" in err and "MCA_ALERT_FROM" in err and "Traceback" not in err
    app, actor = sandbox_app()
    row = app.snapshot_rows(app.latest_snapshot(actor.identity))[0]
    code, _out, err = run(
        "invite", "mca", "--customer", row["customer_id"], "--to", "it@c.example", "--send"
    )
    assert code == 1 and "alert_from" in err
    assert smtp_server.messages == []


def test_a_name_cannot_forge_lines_reorder_text_or_run_on(alerting):
    smtp, hook = alerting
    app, actor = sandbox_app()
    app.sync(actor)
    snap = app.latest_snapshot(actor.identity)
    blocked = [r for r in app.snapshot_rows(snap) if r["accepted"] is False]
    names = {
        blocked[0]["customer_id"]: "AAA line\r\nBcc: evil@y.com\r\n\r\n* 0 customers not accepted",
        blocked[1]["customer_id"]: "AAB 1\u202eevil\u202c gnp.exe",
        blocked[2]["customer_id"]: "AAC " + "x" * 5000,
    }
    from mca_core.store.database import snapshot_rows

    with app.desk.store.engine.begin() as conn:
        for customer_id, name in names.items():
            conn.execute(
                snapshot_rows.update()
                .where(
                    snapshot_rows.c.snapshot_id == snap.id,
                    snapshot_rows.c.customer_id == customer_id,
                )
                .values(company_name=name)
            )
    app.notify(actor)
    english = next(m for m in smtp.messages if m["Content-Language"] == "en")
    lines = english.text.splitlines()
    assert "    - AAA line Bcc: evil@y.com * 0 customers not accepted (" in english.text
    assert not any(line.startswith(("Bcc:", "* 0 customers")) for line in lines)
    assert "\u202e" not in english.text + english.html
    assert max(len(line) for line in lines) < 200
    card = json.dumps(hook.cards[0], ensure_ascii=False)
    assert "\u202e" not in card and "x" * 200 not in card and "\\r\\n" not in card


def test_before_a_first_sync_there_is_nothing_to_tell_and_it_says_so(alerting):
    for argv in (("alerts",), ("alerts", "--dry-run")):
        code, _out, err = run(*argv)
        assert code == 1 and "Nothing to tell yet" in err and "sync" in err, argv


def test_sync_notify_without_a_channel_does_not_claim_nothing_changed(sandbox_env):
    code, out, _err = run("sync", "--notify")
    assert code == 0
    assert "not sent (no channel configured)" in out and "nothing changed" not in out


def test_an_alert_on_a_stopped_sync_says_so():
    from mca_core.usecases.alerts import render_card, render_email

    notice = {
        "partner": "Contoso", "first": False, "complete": False, "expiry_days": 2,
        "dashboard_url": "http://desk", "taken_at": None,
        "totals": {"customers": 3, "accepted": 1, "reacceptance_required": 0, "not_accepted": 2},
        "alerts": [{"kind": "not_accepted", "count": 2, "page": "http://desk/Attest",
                    "customers": [{"id": "a", "name": "A", "domain": "a.example"}]}],
    }  # fmt: skip
    assert "stopped before it read every customer" in render_email(notice, "en").text
    assert "同步在读取全部客户之前被停止" in render_email(notice, "zh-CN").html
    card = json.dumps(render_card(notice, "en"))
    assert "stopped before it read every customer" in card
    notice["complete"] = True
    assert "stopped" not in render_email(notice, "en").text


def test_settings_that_would_mislead_are_named(sandbox_env, monkeypatch, smtp_server):
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_DASHBOARD_URL", "javascript:alert(1)//")
    code, _out, err = run("alerts", "--dry-run")
    assert code == 1 and "dashboard_url" in err and "http(s)" in err
    monkeypatch.setenv("MCA_DASHBOARD_URL", "https://mca.contoso.com/")
    monkeypatch.setenv("MCA_ALERT_TO", "fr:ana@x.com")
    assert run("sync")[0] == 0
    code, _out, err = run("alerts")
    assert code == 1 and "'fr'" in err and "en or zh-CN" in err
