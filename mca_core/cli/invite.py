"""`python -m mca_core invite mca|reseller|provider-request`: the invitation emails for scripts.

The email goes to stdout or `--out` as text (To/Subject headers, a blank line, the body) or as
an RFC 5322 `.eml` file a mail program opens as a draft. A new customer's temporary password is
read from the environment variable MCA_CUSTOMER_TEMP_PASSWORD, never from a flag (flags land in
the shell history); it appears in the email body only, never in the audit log or on stderr.
Exit codes are the CLI's (mca_core/cli.py): 0 done, 1 failure, 2 invalid input (an unusable
`--out` included: a folder, a missing folder, the desk's database), 3 refused for the role.
`--send` sends the email to `--to` over the configured SMTP server (recorded in the invitation
log, audited); a delivery failure is exit 1 naming the reason and the fix, after `--out` (when
given) was written, so the email is never lost.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from mca_core.domain.errors import ConfigurationError, InvalidInput, Problem
from mca_core.domain.requests import (
    ExistingCustomerInvitation,
    Invitation,
    NewCustomerInvitation,
    ProviderRequest,
    RelationshipInvitation,
)
from mca_core.usecases.invitations import LOCALES, PROVIDER_ASKS, Email, eml_for

PASSWORD_ENV = "MCA_CUSTOMER_TEMP_PASSWORD"
FORMATS = ("text", "eml")

HELP = f"""\
kinds:
  mca               invite a customer to accept the MCA in the Microsoft 365 admin
                    center (--customer required). For a NEW customer the email also
                    carries the first admin's sign-in: --user-name NAME, and the
                    temporary password from the environment variable
                    {PASSWORD_ENV} (never a flag: flags land in the
                    shell history). Without --user-name: an existing customer's email.
  reseller          your reseller relationship link (accepting it accepts the MCA);
                    --customer optional; an indirect provider may add --reseller ID.
                    For a customer just created, --user-name NAME adds the first
                    admin's sign-in, with the password from {PASSWORD_ENV}.
  provider-request  indirect resellers: ask your indirect provider to create an
                    enhanced MCA attestation for the customer's signer (--ask attest
                    with --contact-first-name, --contact-last-name, --contact-email,
                    optional --contact-phone) or to send its relationship link
                    (--ask link). The classic attestation was retired on 2026-01-05.

The password goes into the email body only: never into the audit log or onto stderr.
`--out FILE` is written atomically; `--out -` is stdout.
--send sends it to --to over the configured SMTP server (MCA_SMTP_HOST, MCA_ALERT_FROM);
with --out the file is written first, so a failed send never loses the email.
Exit codes: 0 done (sent, with --send), 1 failure (a delivery failure included: the
message names the reason and the fix), 2 invalid input (an unusable --out included;
--send without --to), 3 refused for your role, 130 interrupted, 141 stdout closed by
its reader.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "invite",
        help="write an invitation email (MCA, reseller relationship, request to your provider)",
        description="Write one invitation email, as text or as a .eml file.",
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("mca", "reseller", "provider-request"))
    parser.add_argument("--customer", metavar="ID", default=None, help="tenant id or domain")
    parser.add_argument("--to", metavar="ADDRESS", default="", help="recipient (optional)")
    parser.add_argument(
        "--locale", default="en", choices=LOCALES, help="the email's language (the customer's)"
    )
    parser.add_argument(
        "--format",
        dest="output_format",
        default="text",
        choices=FORMATS,
        help="text (To/Subject/body) or eml (a draft for a mail program)",
    )
    parser.add_argument(
        "--out", metavar="FILE", default=None, help="write to FILE (atomically), not stdout"
    )
    parser.add_argument(
        "--user-name",
        metavar="NAME",
        default=None,
        help=(
            f"mca or reseller, new customer: the first admin's sign-in name "
            f"(password: ${PASSWORD_ENV})"
        ),
    )
    parser.add_argument(
        "--reseller",
        metavar="TENANT_ID",
        default=None,
        help="reseller, indirect provider: the reseller's tenant id",
    )
    parser.add_argument(
        "--company", metavar="NAME", default="", help="reseller: the company name to greet"
    )
    parser.add_argument(
        "--ask", default="attest", choices=PROVIDER_ASKS, help="provider-request: what to ask"
    )
    for flag in ("first-name", "last-name", "email", "phone"):
        parser.add_argument(
            f"--contact-{flag}",
            metavar=flag.split("-")[-1].upper(),
            default=None,
            help=f"provider-request: the signer's {flag.replace('-', ' ')} (who will accept)",
        )
    parser.add_argument(
        "--date",
        default=None,
        help="not used: the enhanced flow dates the agreement when the signer accepts",
    )
    parser.add_argument(
        "--send",
        action="store_true",
        help="send the email to --to over the configured SMTP server (MCA_SMTP_HOST, "
        "MCA_ALERT_FROM); with --out the file is written first",
    )
    parser.set_defaults(func=cmd_invite)


def _require_customer(value: str | None) -> str:
    if not value:
        raise InvalidInput(
            Problem(
                "--customer",
                "The customer is missing.",
                "Give --customer with the customer's tenant id or domain.",
                code="required",
            )
        )
    return value


def _temporary_password(kind: str) -> str:
    """A new customer's temporary password, from the environment only (flags land in the
    shell history)."""
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        without = (
            "leave out --user-name for an existing customer's invitation"
            if kind == "mca"
            else "leave out --user-name to send the link without the sign-in"
        )
        raise InvalidInput(
            Problem(
                PASSWORD_ENV,
                f"A new customer's sign-in needs the temporary password, and {PASSWORD_ENV} "
                "is not set.",
                f"Set {PASSWORD_ENV} in the environment (not on the command line), or {without}.",
                code="required",
            )
        )
    return password


def cmd_invite(cli: Any) -> int:
    from mca_core.cli._context import EXIT_OK, out_target, write_out

    a = cli.args
    # checked before the email is made (and audited): an unusable --out is exit 2 naming it
    target = out_target(cli, a.out) if a.out else None
    if a.send:
        _check_can_send(cli)
    app, actor = cli.app, cli.actor()
    identity = actor.identity
    password = _temporary_password(a.kind) if a.user_name else None
    if a.kind == "mca" and a.user_name:
        customer = _require_customer(a.customer)
        request: Invitation = NewCustomerInvitation(
            customer=customer,
            user_name=a.user_name,
            password=password,
            to=a.to,
            locale=a.locale,
        )
    elif a.kind == "mca":
        customer = _require_customer(a.customer)
        request = ExistingCustomerInvitation(customer=customer, to=a.to, locale=a.locale)
    elif a.kind == "reseller":
        request = RelationshipInvitation(
            to=a.to,
            locale=a.locale,
            customer=a.customer,
            company_name=a.company,
            indirect_reseller_id=a.reseller,
            user_name=a.user_name,
            password=password,
        )
    else:
        customer = _require_customer(a.customer)
        if a.date:
            print(
                "Note: --date is not used: on the enhanced flow the agreement is dated when the "
                "signer accepts.",
                file=cli.err,
            )
        request = ProviderRequest(
            customer=customer,
            ask=a.ask,
            to=a.to,
            locale=a.locale,
            contact_first_name=a.contact_first_name,
            contact_last_name=a.contact_last_name,
            contact_email=a.contact_email,
            contact_phone=a.contact_phone,
            date_agreed=a.date,
        )
    # sent without a file: the send's row is its invitation log row (a failed send is none)
    email: Email = app.invite(actor, request, logged=not (a.send and not a.out))
    if a.send:
        return _send(cli, actor, email, target)
    if a.output_format == "eml":
        data = eml_for(email, sender=identity.email or None)
    else:
        data = as_text(email).encode("utf-8")
    if target is not None:
        write_out(cli, target, data)  # atomically
        cli.emit(
            {**email_document(email), "written_to": a.out, "format": a.output_format},
            f"Wrote the {email.kind} email ({email.locale}, {a.output_format}) to {a.out}: "
            f"{email.subject}",
        )
    elif cli.json:
        content = (
            {"body": email.revealed_text}
            if a.output_format == "text"
            else {"eml": data.decode("utf-8")}
        )
        cli.emit({**email_document(email), "format": a.output_format, **content}, "")
    else:  # no --out, or `--out -`
        cli.write_bytes(data)
    return EXIT_OK


def _check_can_send(cli: Any) -> None:
    """`--send` needs a recipient and an SMTP server with a From address: checked before the
    email is written (exit 2 for the flag, 1 for the configuration, naming the setting)."""
    from mca_core.delivery import email_configured, sender_address

    if not str(cli.args.to or "").strip():
        raise InvalidInput(
            Problem(
                "--to",
                "--send needs the recipient.",
                "Give --to ADDRESS, or leave out --send and write the email with --out.",
                code="required",
            )
        )
    settings = cli.app.settings
    if not email_configured(settings):
        raise ConfigurationError(
            "--send needs an SMTP server: set MCA_SMTP_HOST (and MCA_SMTP_PORT, "
            "MCA_ALERT_FROM), or leave out --send and write the email with --out FILE."
        )
    sender_address(settings)  # ConfigurationError naming MCA_ALERT_FROM


def _send(cli: Any, actor: Any, email: Email, target: Any) -> int:
    """Write the .eml first when --out is given (the email is kept whatever happens), then
    send it. A delivery failure is exit 1 naming the reason and the fix; a refusal or a missing
    field raises (the CLI's usual codes)."""
    from mca_core.cli._context import EXIT_FAILED, EXIT_OK, write_out
    from mca_core.delivery import DeliveryFailed

    a = cli.args
    identity = actor.identity
    if target is not None:
        data = (
            eml_for(email, sender=identity.email or None)
            if a.output_format == "eml"
            else as_text(email).encode("utf-8")
        )
        write_out(cli, target, data)
    result = cli.app.send_invitation(actor, email)
    document = {**email_document(email), "sent": result.sent, "message_id": result.message_id}
    if target is not None:
        document |= {"written_to": a.out, "format": a.output_format}
    if result.sent:
        written = f" (also written to {a.out})" if target is not None else ""
        cli.emit(
            document,
            f"Sent the {email.kind} email ({email.locale}) to {email.to}: {email.subject} "
            f"[Message-ID {result.message_id}]{written}",
        )
        return EXIT_OK
    if not isinstance(result.error, DeliveryFailed):
        assert result.error is not None
        raise result.error
    kept = (
        f"The email was written to {a.out}: send it from a mail program."
        if target is not None
        else "Write it with --format eml --out FILE to send it from a mail program."
    )
    fix = (
        "Check the recipient address and the SMTP settings (MCA_SMTP_HOST, MCA_SMTP_PORT, "
        "MCA_SMTP_USERNAME, MCA_ALERT_FROM), then run the command again."
    )
    message = f"Not sent: {result.reason}. {fix} {kept}"
    print(message, file=cli.err)
    if cli.json:
        cli.emit({**document, "error": "delivery", "message": message}, "")
    return EXIT_FAILED


def as_text(email: Email) -> str:
    """The email as a person reads it: To and Subject, a blank line, the body."""
    head = f"To: {email.to}\n" if email.to else ""
    return f"{head}Subject: {email.subject}\n\n{email.revealed_text}"


def email_document(email: Email) -> dict[str, Any]:
    """The JSON fields of a generated email (the body only where the caller asked for it)."""
    return {
        "kind": email.kind,
        "locale": email.locale,
        "customer_id": email.customer_id,
        "to": email.to,
        "subject": email.subject,
        "required_link": email.required_link,
    }
