"""AppTest of the Alerts page: the channels without a secret, the next alert, sending it, and
the delivery log with a failure's reason."""

from __future__ import annotations

import pytest

from .apptest import cli, open_page, run, texts
from .conftest import ROOT

PAGE = str(ROOT / "pages" / "7_Alerts.py")


def configure(monkeypatch, smtp_server, webhook) -> None:
    for name, value in smtp_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MCA_ALERT_TO", "manager@contoso.example, zh-CN:li.lei@contoso.example")
    monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("MCA_DELIVERY_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("MCA_DELIVERY_ATTEMPTS", "1")


def test_without_a_channel_the_page_says_how_to_set_one(sandbox_env):
    at = run(open_page(PAGE))
    shown = texts(at)
    assert "MCA_SMTP_HOST" in shown and "MCA_TEAMS_WEBHOOK_URL" in shown
    assert at.button(key="al_send").disabled


def test_a_manager_reads_the_next_alert_and_may_not_send_it(
    sandbox_env, monkeypatch, smtp_server, webhook
):
    configure(monkeypatch, smtp_server, webhook)
    assert cli("sync") == 0
    at = run(open_page(PAGE, "manager"))
    shown = texts(at)
    assert "not accepted" in shown and "an agent can send them now" in shown
    assert not [b for b in at.button if b.key == "al_send"]
    from mca_core import AccessRefused, App, load_settings

    app = App.from_settings(load_settings())
    with pytest.raises(AccessRefused):
        app.notify(app.sandbox_actor("manager"))
    assert smtp_server.messages == []


def test_an_agent_sees_the_next_alert_sends_it_and_reads_the_log(
    sandbox_env, monkeypatch, smtp_server, webhook
):
    configure(monkeypatch, smtp_server, webhook)
    assert cli("sync") == 0
    at = run(open_page(PAGE, "sales-agent"))
    shown = texts(at)
    assert "127.0.0.1" in shown and "secret-signature" not in shown and "webhookb2" not in shown
    assert "not accepted" in shown and "must re-accept" in shown  # the next alert's subject
    # the webhook's host: the App holds the real URL, not the "**********" of a JSON dump
    assert "webhook at `127.0.0.1`" in shown
    recipients = at.dataframe[0].value
    assert list(recipients.iloc[:, 0]) == ["manager@contoso.example", "li.lei@contoso.example"]
    assert list(recipients.iloc[:, 1]) == ["English", "简体中文"]

    webhook.status = 500
    at = run(at.button(key="al_send").click())
    shown = texts(at)
    assert "2 alerts delivered (email)" in shown  # one message a recipient
    assert "Not delivered over teams" in shown and "HTTP 500" in shown
    assert len(smtp_server.messages) == 2 and webhook.cards == []
    log = at.dataframe[-1].value
    assert set(log["Status"]) == {"sent", "queued"}
    assert "HTTP 500" in " ".join(log["Last failure"])
    assert "1 alert is queued" in shown

    webhook.status = 200
    at = run(at.button(key="al_send").click())
    assert len(webhook.cards) == 1
    assert set(at.dataframe[-1].value["Status"]) == {"sent"}
    assert "Nothing changed since the last alert" in texts(at)


def test_the_page_in_chinese(sandbox_env, monkeypatch, smtp_server, webhook):
    configure(monkeypatch, smtp_server, webhook)
    assert cli("sync") == 0
    at = open_page(PAGE)
    at.session_state["ui_language"] = "zh-CN"
    at = run(at)
    shown = texts(at)
    assert "下一条提醒" in shown and "个未接受" in shown


def test_the_dashboard_app_holds_the_real_secrets_not_their_mask(sandbox_env, monkeypatch):
    """The dashboard's App was built again from `model_dump_json()`, which writes "**********"
    for every secret: its SMTP password, client secret and webhook URL were that mask."""
    from ui import session

    monkeypatch.setenv("MCA_SMTP_PASSWORD", "pw-123456")
    monkeypatch.setenv("MCA_CLIENT_SECRET", "cs-abcdef")
    monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", "https://example.webhook.office.com/x/sig")
    s = session.app().settings
    assert s.smtp_password.get_secret_value() == "pw-123456"
    assert s.client_secret.get_secret_value() == "cs-abcdef"
    assert s.teams_webhook_url.get_secret_value() == "https://example.webhook.office.com/x/sig"
    monkeypatch.setenv("MCA_SMTP_PASSWORD", "pw-changed")  # another configuration, another App
    assert session.app().settings.smtp_password.get_secret_value() == "pw-changed"


def test_the_digest_on_the_page_previews_downloads_and_sends(
    sandbox_env, monkeypatch, smtp_server, webhook
):
    configure(monkeypatch, smtp_server, webhook)
    at = run(open_page(PAGE))
    assert "No digest yet: sync first." in texts(at)
    assert cli("sync") == 0
    at = run(open_page(PAGE))
    assert at.get("imgs") or at.get("image")  # the chart
    at = run(at.button(key="al_digest_send").click())
    assert "Digest sent (email, teams)." in texts(at)
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert len(subjects) == 2 and len(webhook.cards) == 1
    # a manager previews and downloads, and is not offered the send
    at = run(open_page(PAGE, "manager"))
    assert not [b for b in at.button if b.key == "al_digest_send"]
    assert "Last 7 days" in " ".join(str(o) for o in at.radio(key="al_period").options)
