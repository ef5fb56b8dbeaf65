"""`digest`: the managers' digest of the last day or week, sent by email and to Teams.

    python -m mca_core digest --period week              send it over the configured channels
    python -m mca_core digest --period day --dry-run     print the text version, send nothing
    python -m mca_core digest --eml digest.eml           write the email (with its chart) instead

Exit codes as the rest of the CLI: 0 sent (or printed / written); 1 no channel configured (a
configuration error naming the settings), no snapshot yet (run a sync first), or a delivery that
failed (its reason on stderr, secrets masked; what could be sent was sent); 2 invalid input
(`--eml` a protected or unwritable file); 3 refused for the user's role.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mca_core.delivery import LOCALES


def _default_recipients(app, locale: str) -> list[str]:
    """The `alert_to` addresses reading `locale` (for the To of a written .eml), if any."""
    from mca_core.delivery import parse_recipients
    from mca_core.domain.errors import ConfigurationError

    try:
        found = parse_recipients(app.settings.alert_to, app.settings.alert_locale)
    except ConfigurationError:
        return []
    return [r.address for r in found if r.locale == locale]


def _sender(app) -> str | None:
    from mca_core.delivery import sender_address
    from mca_core.domain.errors import ConfigurationError

    try:
        return sender_address(app.settings)
    except ConfigurationError:
        return None


def _eml_target(cli, out_target):
    """`--out`'s checks for `--eml`, naming --eml when they refuse it."""
    from mca_core.domain.errors import InvalidInput, Problem

    if not str(cli.args.eml).strip():  # `--eml "$UNSET"`: never a send by mistake
        raise InvalidInput(
            Problem(
                "--eml",
                "--eml needs a file name.",
                "Give the .eml file's path, or - for stdout; leave --eml out to send.",
                code="bad_path",
            )
        )
    with _naming_eml():
        return out_target(cli, cli.args.eml)


@contextmanager
def _naming_eml() -> Iterator[None]:
    """Refusals of `--out`'s helpers (the checks, the write) name --eml."""
    import dataclasses

    from mca_core.domain.errors import InvalidInput

    try:
        yield
    except InvalidInput as exc:
        problems = [
            dataclasses.replace(p, field="--eml", reason=p.reason.replace("--out", "--eml"))
            for p in exc.problems
        ]
        raise InvalidInput(problems) from None


def delivery_line(d: Any) -> str:
    where = f"{d.channel} to {', '.join(d.to)} ({d.locale})" if d.to else d.channel
    return where if d.sent else f"{where}: {d.reason}"


def cmd_digest(cli) -> int:
    from mca_core.cli._context import EXIT_FAILED, EXIT_OK, out_target, write_out
    from mca_core.delivery import check_locale

    args = cli.args
    target = _eml_target(cli, out_target) if args.eml is not None else None  # exit 2 first
    if args.eml == "-":
        target = None
    app, actor = cli.app, cli.actor()
    if args.dry_run or args.eml:
        digest = app.digest(actor, args.period)
        locale = check_locale(args.locale or app.settings.alert_locale)
        email = app.digest_email(digest, locale)
        doc: dict[str, Any] = {"dry_run": bool(args.dry_run), "digest": digest.as_dict()}
        texts = []
        if args.eml:
            message = email.message(_default_recipients(app, locale), _sender(app))
            with _naming_eml():
                write_out(cli, target, bytes(message))
            doc["eml"] = "stdout" if target is None else args.eml
            texts.append(f"Digest email ({locale}) written to {doc['eml']}.")
        if args.dry_run:
            doc.update(subject=email.subject, text=email.text, locale=locale)
            texts.insert(0, f"Subject: {email.subject}\n\n{email.text}")
        if args.eml and target is None:  # stdout carries the .eml: the summary goes to stderr
            print("\n".join(texts[1:] if args.dry_run else texts), file=cli.err)
            return EXIT_OK
        cli.emit(doc, "\n".join(texts))
        return EXIT_OK
    outcome = app.send_digest(actor, args.period)
    for failed in outcome.failed:
        print(f"Failed: the digest was not delivered: {delivery_line(failed)}", file=cli.err)
    sent = "; ".join(delivery_line(d) for d in outcome.sent)
    digest = outcome.digest
    text = f"Digest ({digest.period}, {digest.start:%Y-%m-%d} to {digest.end:%Y-%m-%d}) " + (
        f"sent: {sent}." if sent else "not sent."
    )
    cli.emit(outcome.as_dict(), text)
    return EXIT_OK if outcome.ok else EXIT_FAILED


def register(sub: argparse._SubParsersAction) -> None:
    digest = sub.add_parser(
        "digest",
        help="the managers' digest of the last day or week (email, Teams); --dry-run prints it",
        description="Acceptance rate and its change, re-acceptance required, acceptance links "
        "pending and expired, and the five customers at risk for longest, from the desk's "
        "snapshots (no Partner Center call).",
    )
    digest.add_argument("--period", choices=("day", "week"), default="week")
    digest.add_argument(
        "--dry-run",
        action="store_true",
        help="print the text version (in alert_locale, or --locale); send nothing",
    )
    digest.add_argument(
        "--eml",
        metavar="PATH",
        default=None,
        help="write the email (.eml, with its chart) to PATH (- for stdout) instead of sending",
    )
    digest.add_argument(
        "--locale",
        choices=LOCALES,
        default=None,
        help="--dry-run / --eml: the language (default: alert_locale)",
    )
    digest.set_defaults(func=cmd_digest)
