"""The managers' digest: its figures from the snapshot history (exact numbers from snapshots
written with known rows, and a real sandbox synced twice), the five at risk longest and their
order, the email that reaches a real SMTP server (language groups, inline chart by cid, escaped
company names), the Teams card at a real webhook, and the `digest` command's exit codes."""

from __future__ import annotations

import email
import email.policy
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from mca_core import App, AttestRequest, NothingToReport, load_settings
from mca_core.cli.main import main
from mca_core.desk import Actor
from mca_core.domain.errors import AccessRefused
from mca_core.domain.models import Role
from mca_core.usecases import digest as digests
from mca_core.usecases.metrics import customers_frame, kpis

NOW = datetime.now(UTC).replace(microsecond=0)
CURRENT = datetime(2025, 6, 1, tzinfo=UTC)  # after the current MCA's cutoff
EARLIER = datetime(2022, 1, 10, tzinfo=UTC)  # an earlier MCA: re-acceptance required

NAMES = {
    "a": "Alpha Corp",
    "b": "<b>Bold</b> Ltd",
    "c": "*Star* GmbH",
    "d": "Delta",
    "e": "Echo",
    "f": "Foxtrot",
    "g": "Golf",
    "h": "Hotel",
    "i": "India",
    "j": "Juliett",
}


def row(cid: str, status: str) -> dict:
    base = {"customer_id": f"cust-{cid}", "company_name": NAMES[cid], "domain": f"{cid}.example"}
    evidence = {
        "attested": {"accepted": True, "attested": True, "latest_date_agreed": CURRENT},
        "direct": {"accepted": True, "direct_signed": True},
        "both": {
            "accepted": True,
            "attested": True,
            "direct_signed": True,
            "latest_date_agreed": CURRENT,
        },
        "not": {"accepted": False, "attested": False, "direct_signed": False},
        "reaccept": {"accepted": False, "attested": True, "latest_date_agreed": EARLIER},
        "unknown": {"accepted": None, "error": "timeout"},
    }[status]
    return {**base, **evidence}


#: Each snapshot's rows: (hours before NOW, complete, {customer: status}). A customer missing
#: from a snapshot was not in it.
HISTORY = [
    (240, True, {"a": "not", "b": "reaccept", "c": "attested", "d": "not", "g": "direct",
                 "h": "attested", "i": "direct", "j": "both"}),
    (144, True, {"a": "not", "b": "reaccept", "c": "not", "d": "attested", "e": "not",
                 "g": "direct", "h": "attested", "i": "direct", "j": "both"}),
    (72, True, {"a": "not", "b": "reaccept", "c": "not", "d": "not", "g": "direct",
                "h": "attested", "i": "direct", "j": "both"}),
    (12, True, {"a": "not", "b": "reaccept", "c": "not", "d": "reaccept", "e": "unknown",
                "g": "direct", "h": "attested", "i": "direct", "j": "both"}),
    # a stopped sync: its figure is not a point of the chart (it read one customer)
    (6, False, {"h": "attested"}),
    (1, True, {"a": "not", "b": "reaccept", "c": "not", "d": "reaccept", "e": "not",
               "f": "not", "g": "not", "h": "attested", "i": "direct", "j": "both"}),
]  # fmt: skip


def write_history(app: App, identity) -> list[int]:
    ids = []
    for hours, complete, statuses in HISTORY:
        rows = [row(cid, status) for cid, status in statuses.items()]
        summary = kpis(customers_frame(rows, current_since=app.current_since)).as_dict()
        if not complete:
            summary = {"customers": 1, "accepted": 1}
        ids.append(
            app.desk.store.save_snapshot(
                rows,
                taken_by="test",
                scope=app.snapshot_scope(identity),
                mode="default",
                summary=summary,
                complete=complete,
                taken_at=NOW - timedelta(hours=hours),
            )
        )
    return ids


@pytest.fixture
def history(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    write_history(app, actor.identity)
    return app, actor


def test_the_weekly_digest_from_a_known_history(history):
    app, actor = history
    d = app.digest(actor, "week", now=NOW)

    assert (d.customers, d.accepted, d.rate) == (10, 3, 0.3)
    assert (d.reacceptance_required, d.not_accepted, d.unknown) == (2, 5, 0)
    assert d.blocked == 7
    # the week started from the snapshot 10 days ago: 5 of 8 accepted
    assert d.rate_at_start == 5 / 8 and d.rate_at_start_taken_at == NOW - timedelta(hours=240)
    assert d.change_points == -32.5
    # the chart: the start of the week, then every complete snapshot in it (not the stopped one)
    assert [round(r, 4) for _, r in d.series] == [0.625, 0.5556, 0.5, 0.4444, 0.3]
    assert d.series[0][0] == NOW - timedelta(days=7)
    assert d.series[-1][0] == NOW - timedelta(hours=1)
    # blocked longest: since the first snapshot (ties by name: "<b>..." before "alpha"), then
    # since 6 days ago (C accepted 10 days ago; E was not read 3 days ago nor 12 hours ago,
    # which does not interrupt), then D (accepted 6 days ago, blocked again 3 days ago).
    # F (new) and G (blocked since the last sync) come after the five.
    assert [(c.company_name, c.status, c.days) for c in d.at_risk] == [
        ("<b>Bold</b> Ltd", "reacceptance_required", 10),
        ("Alpha Corp", "not_accepted", 10),
        ("*Star* GmbH", "not_accepted", 6),
        ("Echo", "not_accepted", 6),
        ("Delta", "reacceptance_required", 3),
    ]
    assert d.at_risk[2].since == NOW - timedelta(hours=144)
    assert d.at_risk[0].domain == "b.example" and d.at_risk[0].customer_id == "cust-b"
    assert (d.links_pending, d.links_expired) == (0, 0)
    doc = json.loads(json.dumps(d.as_dict()))
    assert doc["change_points"] == -32.5 and len(doc["at_risk"]) == 5


def test_the_daily_digest_starts_from_the_last_snapshot_before_the_day(history):
    app, actor = history
    d = app.digest(actor, "day", now=NOW)
    assert d.rate_at_start == 0.5 and d.change_points == -20.0
    assert [round(r, 4) for _, r in d.series] == [0.5, 0.4444, 0.3]


def test_a_write_through_counts_in_the_latest_figures(history):
    app, actor = history
    latest = app.latest_snapshot(actor.identity)
    app.desk.store.write_through(
        latest.id, "cust-b", {"accepted": True, "latest_date_agreed": CURRENT}
    )
    d = app.digest(actor, "week", now=NOW)
    assert (d.accepted, d.reacceptance_required) == (4, 1)
    assert "<b>Bold</b> Ltd" not in [c.company_name for c in d.at_risk]
    assert d.series[-1][1] == 0.4


def test_nothing_to_report_before_a_first_sync(sandbox_env):
    app = App.from_settings(load_settings())
    with pytest.raises(NothingToReport, match=r"sync` \(or Sync on the Overview\) first"):
        app.digest(app.sandbox_actor("admin-agent"), "week")


def test_managers_and_agents_may_build_it_others_may_not(history):
    app, actor = history
    manager = Actor(actor.identity.model_copy(update={"role": Role.MANAGER}), actor.tokens)
    assert app.digest(manager, "day", now=NOW).customers == 10
    with pytest.raises(AccessRefused):  # a Manager reads the digest; agents send it
        app.send_digest(manager, "day", now=NOW)
    nobody = Actor(actor.identity.model_copy(update={"role": Role.NONE}), actor.tokens)
    with pytest.raises(AccessRefused):
        app.digest(nobody, "day", now=NOW)


def test_a_bad_period_is_invalid_input(history):
    from mca_core import InvalidInput

    app, actor = history
    with pytest.raises(InvalidInput):
        app.digest(actor, "month")


# --- rendering -----------------------------------------------------------------------------------


def test_the_email_escapes_company_names_and_references_its_chart(history):
    app, actor = history
    d = app.digest(actor, "week", now=NOW)
    rendered = digests.digest_email(d, "en", "https://desk.contoso.example/")
    assert rendered.subject.startswith("Contoso") or rendered.subject
    assert "30.0% accepted (-32.5 pt)" in rendered.subject
    assert "&lt;b&gt;Bold&lt;/b&gt; Ltd" in rendered.html and "<b>Bold</b>" not in rendered.html
    assert "*Star* GmbH" in rendered.html
    assert "1. <b>Bold</b> Ltd (b.example): must re-accept the current MCA" in rendered.text
    assert "*Star* GmbH (c.example): not accepted since" in rendered.text
    assert f'src="cid:{rendered.chart_cid}"' in rendered.html
    assert "https://desk.contoso.example/Overview" in rendered.html
    assert "https://desk.contoso.example/Overview" in rendered.text
    assert rendered.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
    message = rendered.message(["boss@contoso.example"], "desk@contoso.example")
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    images = [p for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"].strip() == f"<{rendered.chart_cid}>"
    related = [p for p in parsed.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1


def test_the_chinese_email(history):
    app, actor = history
    d = app.digest(actor, "week", now=NOW)
    rendered = digests.digest_email(d, "zh-CN", "http://localhost:8501")
    assert "接受率 30.0%" in rendered.subject and "-32.5 个百分点" in rendered.subject
    assert "需重新接受当前 MCA：2" in rendered.text
    assert '<html lang="zh-CN">' in rendered.html


def test_the_card_keeps_data_out_of_markdown(history):
    app, actor = history
    d = app.digest(actor, "week", now=NOW)
    card = digests.digest_card(d, "en", "http://desk.example")
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Acceptance rate"] == "30.0% (3/10)"
    assert facts["Change over the period"] == "-32.5 pt"
    assert facts["Acceptance links expired"] == "0"
    runs = [
        run["text"]
        for block in card["body"]
        if block["type"] == "RichTextBlock"
        for run in block["inlines"]
    ]
    assert "*Star* GmbH" in runs and "<b>Bold</b> Ltd" in runs
    texts = [b.get("text", "") for b in card["body"] if b["type"] == "TextBlock"]
    assert not any("Star" in t or "Bold" in t for t in texts)  # never in Markdown text
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the Overview",
            "url": "http://desk.example/Overview",
        }
    ]


# --- sending -------------------------------------------------------------------------------------


def _configure(monkeypatch, smtp_server=None, webhook=None) -> None:
    if smtp_server is not None:
        for name, value in smtp_server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(
            "MCA_ALERT_TO",
            "boss@contoso.example, zh-CN:li.lei@contoso.cn, ana@contoso.example, "
            "zh-CN:wang@contoso.cn",
        )
    if webhook is not None:
        monkeypatch.setenv("MCA_TEAMS_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("MCA_DASHBOARD_URL", "https://desk.contoso.example")


def test_send_one_email_per_language_and_a_card(history, smtp_server, webhook, monkeypatch):
    _configure(monkeypatch, smtp_server, webhook)
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")

    outcome = app.send_digest(actor, "week", now=NOW)

    assert outcome.ok and not outcome.failed
    assert [(d.channel, d.to, d.locale) for d in outcome.deliveries] == [
        ("email", ("boss@contoso.example", "ana@contoso.example"), "en"),
        ("email", ("li.lei@contoso.cn", "wang@contoso.cn"), "zh-CN"),
        ("teams", (), "en"),
    ]
    got = smtp_server.messages
    assert len(got) == 2
    en, zh = got
    assert en["To"] == "boss@contoso.example, ana@contoso.example"
    assert sorted(en.rcpt_tos) == ["ana@contoso.example", "boss@contoso.example"]
    assert en["From"] == "mca-desk@contoso.example"
    assert "MCA weekly digest" in en["Subject"] and "30.0% accepted" in en["Subject"]
    assert zh["To"] == "li.lei@contoso.cn, wang@contoso.cn"
    assert "每周摘要" in zh["Subject"] and zh["Content-Language"] == "zh-CN"
    assert "风险持续最久的客户" in zh.text and "&lt;b&gt;Bold&lt;/b&gt; Ltd" in zh.html
    for received in got:
        (png,) = received.images()
        assert png.startswith(b"\x89PNG")
        image = next(p for p in received.message.walk() if p.get_content_maintype() == "image")
        assert f'src="cid:{image["Content-ID"].strip().strip("<>")}"' in received.html
        assert "<b>Bold</b>" not in received.html
        assert "https://desk.contoso.example/Overview" in received.text
    (card,) = webhook.cards
    assert card["version"] == "1.4"
    assert card["actions"][0]["url"] == "https://desk.contoso.example/Overview"
    audit = app.audit_events(actor.identity, action="digest")
    assert audit and audit[0].outcome == "sent"
    assert "li.lei" not in json.dumps(audit[0].inputs)  # the domains only


def test_a_failed_delivery_is_in_the_outcome_with_a_masked_reason(
    history, smtp_server, webhook, monkeypatch
):
    _configure(monkeypatch, smtp_server, webhook)
    webhook.status = 403
    app = App.from_settings(load_settings())
    outcome = app.send_digest(app.sandbox_actor("admin-agent"), "day", now=NOW)
    assert not outcome.ok and len(outcome.sent) == 2
    (failed,) = outcome.failed
    assert failed.channel == "teams" and "HTTP 403" in (failed.reason or "")
    assert "secret-signature" not in (failed.reason or "")


def test_no_channel_is_a_configuration_error(history):
    from mca_core import ConfigurationError

    app, actor = history
    with pytest.raises(ConfigurationError, match="No channel is configured"):
        app.send_digest(actor, "week")


# --- a real sandbox, synced twice ----------------------------------------------------------------


def test_two_syncs_with_an_acceptance_between(sandbox_env):
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    app.sync(actor)
    first = app.latest_snapshot(actor.identity)
    rows = app.snapshot_rows(first)
    frame = customers_frame(rows, current_since=app.current_since)
    blocked = frame[frame["status"].isin(["not_accepted"])]
    accepting, waiting = list(blocked["customer_id"][:2])

    outcome = app.attest(
        actor,
        AttestRequest(
            customer=accepting,
            first_name="Wei",
            last_name="Li",
            email="wei.li@example.cn",
            language="zh-CN",
        ),
    )
    assert app.play_customer_accepts(outcome.enhanced.attestation.attestation_id) == "accepted"
    app.finalise(actor, accepting)
    app.attest(
        actor,
        AttestRequest(
            customer=waiting,
            first_name="Ana",
            last_name="Ruiz",
            email="a@example.com",
            language="en-US",
        ),
    )
    app.sync(actor)

    d = app.digest(actor, "week")
    before = kpis(frame)
    assert d.customers == before.customers
    assert d.accepted == before.accepted + 1
    assert d.not_accepted == before.not_accepted - 1
    assert d.reacceptance_required == before.reacceptance_required
    assert d.rate_at_start == pytest.approx(before.rate)
    assert d.change_points == round(100 / before.customers, 1)
    assert d.links_pending == 1 and d.links_expired == 0
    assert len(d.series) == 2
    # every blocked customer has been blocked since the first sync: ties by company name
    still = customers_frame(app.snapshot_rows(app.latest_snapshot(actor.identity)))
    still = still[still["status"].isin(["not_accepted", "reacceptance_required"])]
    expected = sorted(still["company_name"], key=str.lower)[:5]
    assert [c.company_name for c in d.at_risk] == expected
    assert accepting not in [c.customer_id for c in d.at_risk]
    assert all(c.since == first.taken_at for c in d.at_risk)
    # a month later the waiting link has expired (its lifetime is days)
    later = app.digest(actor, "week", now=datetime.now(UTC) + timedelta(days=60))
    assert (later.links_pending, later.links_expired) == (0, 1)


# --- the command line ----------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_dry_run_prints_the_text_and_sends_nothing(history, smtp_server, monkeypatch):
    _configure(monkeypatch, smtp_server)
    code, out, err = run("digest", "--period", "week", "--dry-run")
    assert code == 0, err
    assert out.startswith("Subject: ") and "MCA weekly digest" in out
    assert "Acceptance rate: 30.0% (3 of 10 customers)" in out
    assert "1. <b>Bold</b> Ltd (b.example)" in out
    assert smtp_server.messages == []
    code, out, err = run("digest", "--period", "day", "--dry-run", "--locale", "zh-CN", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["dry_run"] and doc["locale"] == "zh-CN"
    assert doc["digest"]["customers"] == 10 and "每日摘要" in doc["subject"]


def test_cli_sends_and_reports_where(history, smtp_server, monkeypatch):
    _configure(monkeypatch, smtp_server)
    code, out, err = run("digest", "--period", "week")
    assert code == 0, err
    assert "sent: email to boss@contoso.example, ana@contoso.example (en)" in out
    assert len(smtp_server.messages) == 2


def test_cli_without_a_channel_is_a_configuration_error(history):
    code, out, err = run("digest", "--period", "week")
    assert code == 1
    assert "Configuration: No channel is configured for the digest" in err
    assert "Traceback" not in err
    code, out, _ = run("--json", "digest")
    assert code == 1 and json.loads(out)["error"] == "configuration"


def test_cli_delivery_failure_exits_1_with_the_reason(history, smtp_server, monkeypatch):
    _configure(monkeypatch, smtp_server)
    smtp_server.refuse_with = "554 5.7.1 no thanks"
    code, _out, err = run("digest", "--period", "day")
    assert code == 1
    assert "Failed: the digest was not delivered: email to boss@contoso.example" in err
    assert "554" in err and "Traceback" not in err


def test_cli_eml_writes_the_email(history, smtp_server, monkeypatch, tmp_path):
    _configure(monkeypatch, smtp_server)
    target = tmp_path / "digest.eml"
    code, _out, err = run("digest", "--eml", str(target), "--locale", "zh-CN")
    assert code == 0, err
    assert smtp_server.messages == []
    parsed = email.message_from_bytes(target.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "li.lei@contoso.cn, wang@contoso.cn"
    assert "每周摘要" in parsed["Subject"]
    images = [p for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1


def test_cli_before_a_first_sync(sandbox_env):
    code, _out, err = run("digest", "--dry-run")
    assert code == 1 and "Nothing to report" in err and "sync" in err


def test_cli_eml_never_overwrites_the_desk_database(history):
    app, _ = history
    store_file = app.desk.store.path
    code, _out, err = run("digest", "--eml", str(store_file))
    assert code == 2 and "--eml" in err and "database" in err


def test_cli_an_empty_eml_is_invalid_never_a_send(history, smtp_server, monkeypatch):
    """`--eml "$UNSET"` used to send the digest to every manager."""
    _configure(monkeypatch, smtp_server)
    code, _out, err = run("digest", "--eml", "")
    assert code == 2 and "--eml needs a file name" in err
    assert smtp_server.messages == []


def test_cli_a_write_failure_names_eml(history, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run("--json", "digest", "--eml", str(blocker / "digest.eml"))
    assert code == 2 and "--eml" in err + out and "--out" not in err + out


def test_a_digest_on_a_stopped_sync_shows_no_change_and_says_why(sandbox_env):
    """The newest snapshot read one customer of ten: its rate is no trend."""
    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    write_history(app, actor.identity)
    rows = [row("h", "attested")]
    app.desk.store.save_snapshot(
        rows, taken_by="test", scope=app.snapshot_scope(actor.identity), mode="default",
        summary={"customers": 1, "accepted": 1}, complete=False,
        taken_at=NOW - timedelta(minutes=5),
    )  # fmt: skip
    d = app.digest(actor, "week", now=NOW)
    assert d.snapshot_complete is False
    for locale, word, why in (
        ("en", "(incomplete sync)", "not shown, the last sync was stopped"),
        ("zh-CN", "（同步未完成）", "最近一次同步在读取全部客户之前被停止"),
    ):
        email = app.digest_email(d, locale)
        assert email.subject.endswith(word) and " pt" not in email.subject
        assert why in email.text and why in email.html


def test_a_manager_is_told_it_may_read_the_digest_not_send_it(history, smtp_server, monkeypatch):
    _configure(monkeypatch, smtp_server)
    code, _out, err = run("--as", "manager", "digest")
    assert code == 3 and "may read the digest but not send it" in err and "--dry-run" in err
    code, out, _ = run("--as", "manager", "digest", "--dry-run")
    assert code == 0 and out.startswith("Subject: ")
    assert smtp_server.messages == []
