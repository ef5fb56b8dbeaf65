"""Commands of the enhanced attestation channel.

* ``attest CUSTOMER_ID ... --channel enhanced`` (or ``attestation_channel = "enhanced"``):
  creates the attestation and prints its id and the acceptance link (exit 0);
* ``attest ... --link-lifetime-hours H``: asks Partner Center for a link valid H hours
  (5 minutes to 7 days; sent in minutes); without it the service decides;
* ``finalise CUSTOMER_ID``: creates the agreement once the customer accepted: exit 0 created
  (or already there), **4 the customer has not accepted yet** (the attestation is kept), and the
  usual codes otherwise (2 invalid input, 3 refused, 1 any other failure, an expired link
  included);
* ``finalise --all-ready``: reads the open links' states, then creates the agreement of every
  attestation whose customer accepted (one audit row each; never twice): exit 0 when none
  failed, 1 otherwise; ``--json`` one document with the counts and one item per attestation;
* ``pipeline [--json] [--no-refresh]``: per customer, MCA required / link sent / expired /
  ready to finalise / done, after reading the open attestations' status;
* ``sandbox-accept ATTESTATION_ID``: sandbox only, play the customer who clicks Accept (exit 2
  for an unknown id, 1 for an expired link).

Exit codes are the CLI's table (mca_core/cli.py); `EXIT_NOT_ACCEPTED` (4) is defined there.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mca_core.cli._context import EXIT_FAILED, EXIT_NOT_ACCEPTED, EXIT_OK, Cli
from mca_core.domain.errors import InvalidInput, Problem
from mca_core.domain.requests import AttestRequest
from mca_core.store.enhanced_attestations import EnhancedAttestation
from mca_core.usecases import enhanced
from mca_core.usecases.channel import ENHANCED

LIFETIME_FLAG = "--link-lifetime-hours"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def attestation_document(record: EnhancedAttestation) -> dict[str, Any]:
    return {
        "attestation_id": record.attestation_id,
        "customer_id": record.customer_id,
        "company_name": record.company_name,
        "state": record.state.value,
        "acceptance_link": record.acceptance_link,
        "created_at": _when(record.created_at),
        "expires_at": _when(record.expires_at),
        "accepted_at": _when(record.accepted_at),
        "finalised_at": _when(record.finalised_at),
        "signer": {
            "first_name": record.signer.first_name,
            "last_name": record.signer.last_name,
            "email": record.signer.email,
            "phone_number": record.signer.phone_number,
        },
        "country": record.country,
        "language": record.language,
        "created_by": record.created_by_name or record.created_by,
    }


def _utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def cmd_attest_enhanced(cli: Cli) -> int:
    """`attest ... --channel enhanced`: the attestation id and the acceptance link."""
    app, a = cli.app, cli.args
    if a.date:
        print(
            "Note: --date is not used by the enhanced channel; the agreement is dated when the "
            "customer accepts.",
            file=cli.err,
        )
    hours = getattr(a, "link_lifetime_hours", None)
    try:
        result = app.attest(
            cli.actor(),
            AttestRequest(
                customer=a.customer_id,
                first_name=a.first_name,
                last_name=a.last_name,
                email=a.email,
                phone=a.phone,
                company_name=a.company_name,
                country=a.country,
                language=a.language or "en-US",
                link_lifetime_hours=hours,
                channel=ENHANCED,
            ),
        )
    except InvalidInput as exc:  # name the flag, in its unit, rather than the form's field
        raise InvalidInput(
            [
                Problem(
                    LIFETIME_FLAG,
                    f"--link-lifetime-hours {hours:g} is outside 5 minutes to 7 days.",
                    "Give 0.0834 to 168 hours (e.g. 48), or leave it out.",
                    code=p.code,
                    params=p.params,
                )
                if p.code == "link_lifetime_range" and hours is not None
                else p
                for p in exc.problems
            ]
        ) from None
    created = result.enhanced
    assert created is not None
    record = created.attestation
    doc = {
        "channel": "enhanced",
        "customer_id": result.customer_id,
        "outcome": result.outcome,
        "message": result.message,
        "request_id": result.request_id,
        **{k: v for k, v in attestation_document(record).items() if k != "customer_id"},
    }
    lines = [f"{result.customer_id}: {result.message}"]
    if record.attestation_id:
        lines.append(f"  attestation id: {record.attestation_id}")
    if record.acceptance_link and result.outcome in ("link_created", "link_reused"):
        lines.append(f"  acceptance link (valid until {_utc(record.expires_at)}):")
        lines.append(f"  {record.acceptance_link}")
        if not app.link_reachable:
            lines.append(
                "  (embedded sandbox: no browser can open this link; play the customer with "
                f"`python -m mca_core sandbox-accept {record.attestation_id}`)"
            )
        lines.append(
            f"  after {record.signer.full_name} accepts: python -m mca_core finalise "
            f"{result.customer_id}"
        )
    elif result.outcome == "already_accepted":
        lines.append(f"  next: python -m mca_core finalise {result.customer_id}")
    cli.emit(doc, "\n".join(lines))
    return EXIT_OK


def cmd_finalise(cli: Cli) -> int:
    app, a = cli.app, cli.args
    if getattr(a, "all_ready", False):
        return cmd_finalise_all_ready(cli)
    try:
        outcome = app.finalise(cli.actor(), a.customer_id, a.attestation_id)
    except enhanced.EnhancedRefusal as exc:
        not_yet = isinstance(exc, enhanced.CustomerNotAcceptedYet)
        print(f"{'Not yet' if not_yet else 'Failed'}: {exc}", file=cli.err)
        if exc.request_id:
            print(f"  MS-RequestId {exc.request_id}", file=cli.err)
        if cli.json:
            cli.emit(
                {
                    "error": "not_accepted" if not_yet else "link_expired",
                    "message": str(exc),
                    "request_id": exc.request_id,
                    **attestation_document(exc.attestation),
                },
                "",
            )
        return EXIT_NOT_ACCEPTED if not_yet else EXIT_FAILED
    record = outcome.attestation
    doc = {
        "outcome": outcome.outcome,
        "message": outcome.message,
        "request_id": outcome.request_id,
        "date_agreed": outcome.agreement.date_agreed.date().isoformat()
        if outcome.agreement
        else None,
        **attestation_document(record),
    }
    text = f"{outcome.customer_id}: {outcome.message}"
    if outcome.request_id:
        text += f" (MS-RequestId {outcome.request_id})"
    cli.emit(doc, text)
    return EXIT_OK


def cmd_finalise_all_ready(cli: Cli) -> int:
    """`finalise --all-ready`: every attestation whose customer accepted, exit 0 unless one
    failed (1)."""
    if cli.args.attestation_id:
        raise InvalidInput(
            Problem(
                "--attestation-id",
                "--attestation-id names one attestation; --all-ready finalises every ready one.",
                "Use CUSTOMER_ID --attestation-id ID for one, or --all-ready alone.",
                code="invalid",
            )
        )
    summary = cli.app.finalise_ready(cli.actor())
    refreshed = summary.refresh
    if refreshed is not None:
        for error in refreshed.errors:
            print(f"warning: {error}", file=cli.err)
    lines = [
        f"{summary.finalised} finalised, {summary.not_ready} not ready, {summary.failed} failed"
    ]
    if refreshed is not None and not refreshed.status_read:
        lines.append(
            "(Partner Center offers no status read: every pending link was tried; the ones "
            "not accepted yet are kept)"
        )
    for item in summary.items:
        if item.outcome == "not_ready":
            continue
        rid = f" (MS-RequestId {item.request_id})" if item.request_id else ""
        lines.append(f"{item.customer_id}  {item.outcome}: {item.message}{rid}")
    for item in summary.items:
        if item.outcome == "failed":
            print(f"Failed: {item.customer_id}: {item.message}", file=cli.err)
    cli.emit(summary.as_dict(), "\n".join(lines))
    return EXIT_OK if summary.failed == 0 else EXIT_FAILED


STAGE_TEXT = {
    "ready": "ready to finalise",
    "expired": "link expired: send a new link",
    "pending": "link sent, waiting for the customer",
    "required": "MCA required",
    "done": "agreement created",
}


def cmd_pipeline(cli: Cli) -> int:
    app = cli.app
    actor = cli.actor()
    summary = None
    if not cli.args.no_refresh:
        summary = app.refresh_links(actor)
        for error in summary.errors:
            print(f"warning: {error}", file=cli.err)
    pipeline = app.pipeline(actor.identity)
    counts = {stage.value: pipeline.counts.get(stage, 0) for stage in enhanced.Stage}
    items = []
    for item in pipeline.items:
        doc: dict[str, Any] = {
            "customer_id": item.customer_id,
            "company_name": item.company_name,
            "domain": item.domain,
            "stage": item.stage.value,
        }
        if item.attestation is not None:
            doc.update(
                {k: v for k, v in attestation_document(item.attestation).items() if k not in doc}
            )
        items.append(doc)
    document = {
        "channel": app.settings.attestation_channel,
        "counts": counts,
        "synced": pipeline.synced,
        "synced_at": _when(pipeline.synced_at),
        "status_read": None if summary is None else summary.status_read,
        "items": items,
    }
    lines = [
        "MCA required {required}, link sent {pending}, links expired {expired}, ready to "
        "finalise {ready}, agreement created {done}".format(**counts)
    ]
    if not pipeline.synced:
        lines.append(
            "(no synced customer list: run `python -m mca_core sync` to count every "
            "customer that still needs the MCA)"
        )
    if summary is not None and not summary.status_read:
        lines.append(
            "(Partner Center offers no status read: finalise to learn whether a customer accepted)"
        )
    for item in pipeline.items:
        if item.stage is enhanced.Stage.DONE:
            continue
        record = item.attestation
        extra = ""
        if record is not None and item.stage is enhanced.Stage.PENDING:
            extra = f", valid until {_utc(record.expires_at)}"
        lines.append(
            f"{item.customer_id}  {item.company_name[:40]:<40}  {STAGE_TEXT[item.stage.value]}"
            f"{extra}"
        )
    cli.emit(document, "\n".join(lines))
    return EXIT_OK


def cmd_sandbox_accept(cli: Cli) -> int:
    outcome = cli.app.play_customer_accepts(cli.args.attestation_id)
    texts = {
        "accepted": "The customer accepted the agreement.",
        "already": "The customer had already accepted.",
        "expired": "The link has expired: the customer can no longer accept it.",
        "unknown": "No attestation with this id.",
    }
    if outcome == "unknown":  # a wrong id is invalid input (exit 2), not a failure
        raise InvalidInput(
            Problem(
                "ATTESTATION_ID",
                f"No attestation with the id {cli.args.attestation_id}.",
                "Copy the attestation id `attest --channel enhanced` printed (or see `pipeline`).",
                code="unknown_attestation",
            )
        )
    cli.emit(
        {"attestation_id": cli.args.attestation_id, "outcome": outcome},
        f"{cli.args.attestation_id}: {texts[outcome]}",
    )
    return EXIT_OK if outcome in ("accepted", "already") else EXIT_FAILED


def register(sub: argparse._SubParsersAction) -> None:
    attest = sub.choices.get("attest")  # the core command (cli/main.py): its enhanced flags
    if attest is not None:
        attest.add_argument(
            LIFETIME_FLAG,
            type=float,
            default=None,
            metavar="HOURS",
            help="enhanced: ask for an acceptance link valid this long, 5 minutes to 7 days "
            "(0.0834 to 168; sent in minutes); default: Partner Center decides",
        )
    finalise = sub.add_parser(
        "finalise",
        help="enhanced channel: create the agreement once the customer accepted",
        description="Exit codes: 0 created or already there, 4 the customer has not accepted "
        "yet, 2 invalid input, 3 refused, 1 any other failure (an expired link included). "
        "With --all-ready: every attestation whose customer accepted; 0 when none failed, 1 "
        "otherwise.",
    )
    which = finalise.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "customer_id", metavar="CUSTOMER_ID", nargs="?", default=None, help="tenant id or domain"
    )
    which.add_argument(
        "--all-ready",
        action="store_true",
        help="every attestation whose customer accepted (after reading the links' states)",
    )
    finalise.add_argument(
        "--attestation-id", default=None, help="a specific attestation (default: the newest open)"
    )
    finalise.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document (as the global --json)",
    )
    finalise.set_defaults(func=cmd_finalise)

    pipeline = sub.add_parser(
        "pipeline", help="enhanced channel: required / link sent / expired / ready / done"
    )
    pipeline.add_argument(
        "--no-refresh", action="store_true", help="show the stored pipeline without asking"
    )
    pipeline.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document (as the global --json)",
    )
    pipeline.set_defaults(func=cmd_pipeline)

    accept = sub.add_parser(
        "sandbox-accept", help="sandbox only: play the customer who accepts the agreement"
    )
    accept.add_argument("attestation_id", metavar="ATTESTATION_ID")
    accept.set_defaults(func=cmd_sandbox_accept)


__all__ = [
    "EXIT_NOT_ACCEPTED",
    "attestation_document",
    "cmd_attest_enhanced",
    "cmd_finalise",
    "cmd_finalise_all_ready",
    "cmd_pipeline",
    "cmd_sandbox_accept",
    "register",
]
