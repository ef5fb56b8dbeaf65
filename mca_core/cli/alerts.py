"""`alerts`: tell managers what changed since they were last told (`--dry-run`: print it only).

`sync --notify` does the same after a sync. Exit codes as the rest of the CLI: a delivery that
failed is a warning on stderr with exit 0 (the alert stays queued and goes with the next run);
no channel configured is a configuration error (1) naming the settings, unless `--dry-run`.
"""

from __future__ import annotations

import argparse
from typing import Any

from mca_core.domain.errors import ConfigurationError


def alerts_text(outcome: dict[str, Any]) -> str:
    """One line for a person: what was queued and delivered."""
    kinds = ", ".join(f"{a['count']} {a['kind'].replace('_', ' ')}" for a in outcome["alerts"])
    parts = [f"alert: {kinds}" if kinds else "alerts: nothing changed since the last alert"]
    if not outcome["channels"]:
        parts = ["alerts: not sent (no channel configured)"]
    if outcome["delivered"]:
        parts.append("delivered: " + delivered_text(outcome["delivered"]))
    if outcome["pending"]:
        parts.append(f"{outcome['pending']} queued for the next run")
    return "; ".join(parts)


def delivered_text(delivered: list[dict[str, Any]]) -> str:
    """What went where, e.g. "email to 2 recipients, teams"."""
    emails = sum(1 for d in delivered if d["channel"] == "email")
    parts = [f"email to {emails} recipient{'s' if emails != 1 else ''}"] if emails else []
    return ", ".join(parts + sorted({d["channel"] for d in delivered if d["channel"] != "email"}))


def warn_failures(cli, outcome: dict[str, Any]) -> None:
    for failure in outcome["failed"]:
        if failure.get("dropped"):
            print(f"warning: {failure['reason']}.", file=cli.err)
            continue
        to = f" to {failure['to']}" if failure.get("to") else ""
        print(
            f"warning: the {failure['channel']} alert{to} was not delivered "
            f"({failure['reason']}); it stays queued and is sent with the next run.",
            file=cli.err,
        )
    for problem in outcome["problems"]:
        print(f"warning: {problem}", file=cli.err)


def cmd_alerts(cli) -> int:
    from mca_core.cli._context import EXIT_OK

    app, actor = cli.app, cli.actor()
    channels = app.alert_channels()
    if cli.args.dry_run:
        notice = app.alerts_preview(actor)
        doc: dict[str, Any] = {"dry_run": True, "channels": channels.names, "notice": notice}
        if notice is None:
            text = "Nothing changed since the last alert: nothing would be sent."
        else:
            from mca_core.usecases.alerts import render_email

            rendered = render_email(notice, channels.locale)
            where = ", ".join(channels.names) or "no channel configured"
            text = f"Would send ({where}):\nSubject: {rendered.subject}\n\n{rendered.text}"
        for problem in channels.problems:
            print(f"warning: {problem}", file=cli.err)
        cli.emit(doc, text)
        return EXIT_OK
    if not channels.any:
        raise ConfigurationError(
            "No alert channel is configured: set MCA_SMTP_HOST, MCA_SMTP_PORT, MCA_ALERT_FROM "
            "and MCA_ALERT_TO for email, or MCA_TEAMS_WEBHOOK_URL for Teams"
            + (f" ({'; '.join(channels.problems)})" if channels.problems else "")
            + ". `alerts --dry-run` shows what would be sent."
        )
    outcome = app.notify(actor).as_dict()
    warn_failures(cli, outcome)
    cli.emit(outcome, alerts_text(outcome))
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser(
        "alerts",
        help="send managers what changed since the last alert (email, Teams); --dry-run prints it",
    )
    alerts.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send and record nothing"
    )
    alerts.set_defaults(func=cmd_alerts)
